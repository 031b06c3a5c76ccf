# tclsh run_hls.tcl SCRIPT  -- run a Vitis HLS script against the stub commands (hls_stub.tcl) in the current
# directory, as `vitis_hls -f SCRIPT` would. Exit status 1 (with the Tcl error) on any failure.
if {$argc != 1} { puts stderr "usage: tclsh run_hls.tcl SCRIPT"; exit 2 }
set hwgen_stub_script [lindex $argv 0]
set argv {}
set argc 0
if {[catch {source [file join [file dirname [file normalize [info script]]] hls_stub.tcl]} msg]} {
    puts stderr "stub setup failed: $msg"
    exit 1
}
if {[catch {source $hwgen_stub_script} msg opts] && [dict get $opts -errorcode] ne "HWGEN_STUB_EXIT"} {
    puts stderr "ERROR: $msg\n[dict get $opts -errorinfo]"
    ::stub::record RESULT error
    ::hls::real_exit 1
}
::stub::record RESULT ok
puts "vitis_hls stub: $hwgen_stub_script completed"
::hls::real_exit 0
