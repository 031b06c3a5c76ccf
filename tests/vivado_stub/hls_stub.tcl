# Stub of the Vitis HLS Tcl commands hwgen's hls.tcl uses. Records every call, checks the arguments (files exist,
# the part is a board's part, the top function exists in the sources), and on export_design writes a stub IP
# (component.xml with the top's AXI4-Stream TDATA widths) where Vitis HLS puts the real one.

source [file join [file dirname [file normalize [info script]]] common.tcl]
::stub::init_common

namespace eval ::hls {
    variable project ""
    variable solution ""
    variable top ""
    variable sources {}
    variable part ""
    variable clock ""
    variable synthesized 0
    variable prefix ""
}

proc open_project {args} {
    ::stub::record open_project {*}$args
    lassign [::stub::parse open_project {-reset 0} $args] o pos
    if {[llength $pos] != 1 || ![regexp {^[A-Za-z_][A-Za-z0-9_]*$} [lindex $pos 0]]} {
        ::stub::fail "open_project: expected one project name, got '$pos'"
    }
    set ::hls::project [lindex $pos 0]
    file mkdir $::hls::project
}

proc set_top {args} {
    ::stub::record set_top {*}$args
    if {[llength $args] != 1} { ::stub::fail "set_top: expected one function name" }
    if {$::hls::project eq ""} { ::stub::fail "set_top before open_project" }
    set ::hls::top [lindex $args 0]
}

proc add_files {args} {
    ::stub::record add_files {*}$args
    lassign [::stub::parse add_files {-cflags 1 -csimflags 1 -tb 0 -blackbox 1} $args] o pos
    if {$::hls::project eq ""} { ::stub::fail "add_files before open_project" }
    if {[llength $pos] == 0} { ::stub::fail "add_files: no file" }
    foreach f $pos {
        if {![file isfile $f]} { ::stub::fail "add_files: file '$f' does not exist (in [pwd])" }
        # every quoted include of a source must exist beside it
        foreach {- inc} [regexp -all -inline {#include\s+"([^"]+)"} [::stub::read_file $f]] {
            if {![file isfile [file join [file dirname $f] $inc]]} {
                ::stub::fail "add_files: $f includes missing file '$inc'"
            }
        }
        if {![dict exists $o -tb]} { lappend ::hls::sources $f }
    }
}

proc open_solution {args} {
    ::stub::record open_solution {*}$args
    lassign [::stub::parse open_solution {-flow_target 1 -reset 0} $args] o pos
    if {$::hls::project eq ""} { ::stub::fail "open_solution before open_project" }
    if {[llength $pos] != 1} { ::stub::fail "open_solution: expected one solution name" }
    if {[dict exists $o -flow_target] && [dict get $o -flow_target] ni {vivado vitis}} {
        ::stub::fail "open_solution: -flow_target must be vivado or vitis"
    }
    set ::hls::solution [lindex $pos 0]
    file mkdir [file join $::hls::project $::hls::solution]
}

proc set_part {args} {
    ::stub::record set_part {*}$args
    if {[llength $args] != 1} { ::stub::fail "set_part: expected one part" }
    if {$::hls::solution eq ""} { ::stub::fail "set_part before open_solution" }
    ::stub::check_part [lindex $args 0]
    set ::hls::part [lindex $args 0]
}

proc create_clock {args} {
    ::stub::record create_clock {*}$args
    lassign [::stub::parse create_clock {-period 1 -name 1} $args] o pos
    if {![dict exists $o -period] || ![string is double -strict [dict get $o -period]] || [dict get $o -period] <= 0} {
        ::stub::fail "create_clock: -period must be a positive number"
    }
    set ::hls::clock [dict get $o -period]
}

proc config_dataflow {args} {
    ::stub::record config_dataflow {*}$args
    lassign [::stub::parse config_dataflow {-default_channel 1 -fifo_depth 1 -strict_mode 1} $args] o pos
    if {[dict exists $o -default_channel] && [dict get $o -default_channel] ni {fifo pingpong}} {
        ::stub::fail "config_dataflow: -default_channel must be fifo or pingpong"
    }
}

proc config_rtl {args} {
    ::stub::record config_rtl {*}$args
    lassign [::stub::parse config_rtl {-module_prefix 1 -reset 1 -reset_level 1} $args] o pos
    if {[llength $pos]} { ::stub::fail "config_rtl: unexpected arguments '$pos'" }
    if {[dict exists $o -module_prefix]} {
        set ::hls::prefix [dict get $o -module_prefix]
        if {![regexp {^[A-Za-z_][A-Za-z0-9_]*$} $::hls::prefix]} { ::stub::fail "config_rtl: bad -module_prefix '$::hls::prefix'" }
    }
}

proc csim_design {args} { ::stub::record csim_design {*}$args }

proc csynth_design {args} {
    ::stub::record csynth_design {*}$args
    foreach v {top part clock} {
        if {[set ::hls::$v] eq ""} { ::stub::fail "csynth_design: no $v set" }
    }
    set found 0
    foreach f $::hls::sources {
        set t [::stub::read_file $f]
        if {[regexp "void\\s+$::hls::top\\s*\\((\[^)\]*)\\)\\s*\{" $t -> sig]} {
            set found 1
            if {![regexp {ap_axiu<\s*(\d+)\s*,[^>]*>\s*>\s*&\s*in0_V} $sig -> ::hls::in_bits] ||
                ![regexp {ap_axiu<\s*(\d+)\s*,[^>]*>\s*>\s*&\s*out_V} $sig -> ::hls::out_bits]} {
                ::stub::fail "csynth_design: $::hls::top has no AXI4-Stream in0_V / out_V arguments"
            }
            foreach p {{INTERFACE axis port=in0_V} {INTERFACE axis port=out_V} {DATAFLOW}} {
                if {[string first "#pragma HLS $p" $t] < 0} { ::stub::fail "csynth_design: missing #pragma HLS $p" }
            }
        }
    }
    if {!$found} { ::stub::fail "csynth_design: top function $::hls::top not found in $::hls::sources" }
    set ::hls::synthesized 1
}

proc export_design {args} {
    ::stub::record export_design {*}$args
    lassign [::stub::parse export_design {-format 1 -vendor 1 -library 1 -version 1 -ipname 1 -output 1 -rtl 1} $args] o pos
    if {!$::hls::synthesized} { ::stub::fail "export_design before csynth_design" }
    if {![dict exists $o -format] || [dict get $o -format] ne "ip_catalog"} { ::stub::fail "export_design: -format ip_catalog expected" }
    set vendor xilinx.com
    set lib hls
    set ver 1.0
    if {[dict exists $o -vendor]} { set vendor [dict get $o -vendor] }
    if {[dict exists $o -library]} { set lib [dict get $o -library] }
    if {[dict exists $o -version]} { set ver [dict get $o -version] }
    set name $::hls::top
    if {[dict exists $o -ipname]} { set name [dict get $o -ipname] }
    set ipdir [file join $::hls::project $::hls::solution impl ip]
    # "modules": the prefix every RTL module of this IP carries (Vitis HLS: sub-modules are named <top>_..., all
    # of them prefixed by config_rtl -module_prefix); two IPs with the same one collide in one Vivado project
    ::stub::write_file [file join $ipdir component.xml] \
        "<!-- hwgen vivado stub IP -->\nvlnv $vendor:$lib:$name:$ver\nin0_V $::hls::in_bits\nout_V $::hls::out_bits\npart $::hls::part\nmodules $::hls::prefix$::hls::top\n"
}

proc close_project {args} { ::stub::record close_project {*}$args }

# `exit` inside hls.tcl ends the script (run_hls.tcl catches it), not the stub
rename exit ::hls::real_exit
proc exit {args} {
    ::stub::record exit {*}$args
    return -code error -errorcode HWGEN_STUB_EXIT "exit"
}
