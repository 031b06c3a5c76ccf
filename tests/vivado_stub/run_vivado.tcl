# tclsh run_vivado.tcl SCRIPT ?ARGS...?  -- run a Vivado batch script against the stub commands (vivado_stub.tcl),
# as `vivado -mode batch -source SCRIPT -tclargs ARGS` would. Exit status 1 (with the Tcl error) on any failure.
if {$argc < 1} { puts stderr "usage: tclsh run_vivado.tcl SCRIPT ?ARGS...?"; exit 2 }
set hwgen_stub_script [lindex $argv 0]
set argv [lrange $argv 1 end]
set argc [llength $argv]
if {[catch {source [file join [file dirname [file normalize [info script]]] vivado_stub.tcl]} msg]} {
    puts stderr "stub setup failed: $msg"
    exit 1
}
if {[catch {source $hwgen_stub_script} msg opts]} {
    puts stderr "ERROR: $msg\n[dict get $opts -errorinfo]"
    ::stub::record RESULT error
    exit 1
}
::stub::record RESULT ok
puts "vivado stub: $hwgen_stub_script completed"
exit 0
