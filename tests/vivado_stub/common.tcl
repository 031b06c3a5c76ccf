# Shared by the Vivado and Vitis HLS stubs: the call log, board parts, argument helpers.
#
# Environment:
#   HWGEN_STUB_LOG          append one line per stub call here ([list command args...]); default: no log
#   HWGEN_STUB_BOARDS       directory of boards/*.yaml (the valid parts and platforms); default: ../../boards

namespace eval ::stub {
    variable dir [file dirname [file normalize [info script]]]
    variable log ""
    variable parts {}
    variable platforms {}
}

proc ::stub::init_common {} {
    variable dir
    variable log
    variable parts
    variable platforms
    if {[info exists ::env(HWGEN_STUB_LOG)] && $::env(HWGEN_STUB_LOG) ne ""} {
        set log $::env(HWGEN_STUB_LOG)
    }
    set bdir [file join $dir .. .. boards]
    if {[info exists ::env(HWGEN_STUB_BOARDS)]} { set bdir $::env(HWGEN_STUB_BOARDS) }
    foreach f [glob -nocomplain -directory $bdir *.yaml] {
        set fh [open $f]
        set text [read $fh]
        close $fh
        if {[regexp -line {^part:\s*([^\s#]+)} $text -> p]} { lappend parts $p }
        if {[regexp -line {^platform:\s*([^\s#]+)} $text -> p] && $p ne "null"} { lappend platforms $p }
    }
    if {[llength $parts] == 0} { error "stub: no boards/*.yaml found in $bdir" }
}

proc ::stub::record {cmd args} {
    variable log
    if {$log eq ""} { return }
    set fh [open $log a]
    puts $fh [list $cmd {*}$args]
    close $fh
}

proc ::stub::fail {msg} {
    record STUB_ERROR $msg
    return -code error "STUB ERROR: $msg"
}

proc ::stub::check_part {part} {
    variable parts
    if {[lsearch -exact $parts $part] < 0} { fail "part '$part' is not the part of any board in boards/ ($parts)" }
}

# Parse "-opt value" / "-flag" options. spec: dict option -> 1 (takes a value) or 0 (flag).
# Returns [list optsdict positional-list]; unknown options fail.
proc ::stub::parse {cmd spec argl} {
    set opts [dict create]
    set pos {}
    for {set i 0} {$i < [llength $argl]} {incr i} {
        set a [lindex $argl $i]
        if {[string match -* $a] && ![string is double -strict $a]} {
            if {![dict exists $spec $a]} { fail "$cmd: unknown option '$a'" }
            if {[dict get $spec $a]} {
                incr i
                if {$i >= [llength $argl]} { fail "$cmd: option $a needs a value" }
                dict set opts $a [lindex $argl $i]
            } else {
                dict set opts $a 1
            }
        } else {
            lappend pos $a
        }
    }
    return [list $opts $pos]
}

proc ::stub::read_file {path} {
    set fh [open $path]
    set t [read $fh]
    close $fh
    return $t
}

proc ::stub::write_file {path text} {
    file mkdir [file dirname $path]
    set fh [open $path w]
    puts -nonewline $fh $text
    close $fh
}
