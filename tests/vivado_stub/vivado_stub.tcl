# Stub of the Vivado Tcl commands hwgen's build.tcl uses (project, IP catalog, block design, runs, reports).
#
# Every call is recorded (common.tcl) and its arguments checked: the part is a board's part, IP VLNVs come from a
# known catalog (plus IPs found in ip_repo_paths), CONFIG.* names are known parameters of the IP, files exist,
# pins exist for the cell's current configuration, each interface pin / input pin is connected at most once,
# AXI4-Stream TDATA widths agree across a connection, clock / reset / interrupt pins are driven by their kind.
# validate_bd_design fails when a required pin of any cell (every interface and clock / reset / interrupt pin of
# the accelerator and the DMA, every enabled PS port, ...) is unconnected, when addresses were not assigned or
# when the AXI DMA configuration is inconsistent. The runs write stub .bit / .hwh files where Vivado puts them.
#
# Environment (besides common.tcl): HWGEN_STUB_BOARD_PARTS  board_part VLNVs get_board_parts knows (default none)
#                                    HWGEN_STUB_WNS / _TNS / _WHS / _THS  implementation timing (default: met)

source [file join [file dirname [file normalize [info script]]] common.tcl]
::stub::init_common

namespace eval ::viv {
    variable project ""
    variable proj_dir ""
    variable part ""
    variable props [dict create]
    variable ip_repos {}
    variable files {}
    variable bd ""
    variable cells [dict create]     ;# name -> dict vlnv, type (ip|module), config
    variable ports [dict create]     ;# name -> kind intf|net
    variable intf_conn [dict create] ;# pin path -> peer
    variable drivers [dict create]   ;# input pin path -> driver
    variable sinks [dict create]     ;# output pin path -> count
    variable addressed 0
    variable order {}                ;# cells in creation order (assign_bd_address maps their AXI-Lite slaves)
    variable validated 0
    variable wrapper ""
    variable runs [dict create]      ;# run -> state launched|done
    variable catalog {
        xilinx.com:ip:processing_system7:5.5
        xilinx.com:ip:zynq_ultra_ps_e:3.4
        xilinx.com:ip:zynq_ultra_ps_e:3.5
        xilinx.com:ip:axi_dma:7.1
        xilinx.com:ip:smartconnect:1.0
        xilinx.com:ip:axi_interconnect:2.1
        xilinx.com:ip:proc_sys_reset:5.0
        xilinx.com:ip:xlconcat:2.1
        xilinx.com:ip:axis_dwidth_converter:1.1
    }
    variable intf_vlnvs {
        xilinx.com:interface:ddrx_rtl:1.0
        xilinx.com:display_processing_system7:fixedio_rtl:1.0
    }
    # known CONFIG parameters per IP (name part of the VLNV) with defaults used by the pin model
    variable params {
        processing_system7 {PCW_USE_M_AXI_GP0 1 PCW_USE_M_AXI_GP1 0 PCW_USE_S_AXI_HP0 0 PCW_USE_S_AXI_HP1 0
            PCW_S_AXI_HP0_DATA_WIDTH 64 PCW_EN_CLK0_PORT 1 PCW_EN_RST0_PORT 1 PCW_FPGA0_PERIPHERAL_FREQMHZ 50
            PCW_USE_FABRIC_INTERRUPT 0 PCW_IRQ_F2P_INTR 0 preset None}
        zynq_ultra_ps_e {PSU__USE__M_AXI_GP0 1 PSU__USE__M_AXI_GP1 1 PSU__USE__M_AXI_GP2 0
            PSU__MAXIGP0__DATA_WIDTH 128 PSU__USE__S_AXI_GP2 0 PSU__SAXIGP2__DATA_WIDTH 128
            PSU__FPGA_PL0_ENABLE 1 PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ 100 PSU__USE__IRQ0 0}
        axi_dma {c_include_sg 1 c_sg_include_stscntrl_strm 1 c_sg_length_width 14 c_addr_width 32
            c_include_mm2s 1 c_include_s2mm 1 c_m_axi_mm2s_data_width 32 c_m_axis_mm2s_tdata_width 32
            c_m_axi_s2mm_data_width 32 c_s_axis_s2mm_tdata_width 32 c_mm2s_burst_size 16 c_s2mm_burst_size 16
            c_include_mm2s_dre 0 c_include_s2mm_dre 0}
        smartconnect {NUM_SI 1 NUM_MI 1 NUM_CLKS 1}
        axi_interconnect {NUM_SI 1 NUM_MI 1}
        proc_sys_reset {C_EXT_RESET_HIGH 0 C_AUX_RESET_HIGH 0}
        xlconcat {NUM_PORTS 2}
        axis_dwidth_converter {S_TDATA_NUM_BYTES 1 M_TDATA_NUM_BYTES 1 HAS_TLAST 0 HAS_TKEEP 0}
    }
}

# ------------------------------------------------------------------------------------------------ pin model
# pins: dict pin -> {class intf|net  dir I|O  req 0|1  kind clk|rst|intr|data|axi|axis|ext  [width bits]}
proc ::viv::cfg {cell key} {
    set c [dict get $::viv::cells $cell]
    if {[dict exists $c config $key]} { return [dict get $c config $key] }
    set ipname [lindex [split [dict get $c vlnv] :] 2]
    return [dict get $::viv::params $ipname $key]
}

proc ::viv::pins {cell} {
    set c [dict get $::viv::cells $cell]
    set vl [dict get $c vlnv]
    set ipname [lindex [split $vl :] 2]
    set P [dict create]
    proc add {name class dir req kind {width ""}} {
        upvar P P
        dict set P $name [dict create class $class dir $dir req $req kind $kind width $width]
    }
    if {[dict get $c type] eq "module" || [lindex [split $vl :] 1] eq "hls"} {
        add in0_V intf I 1 axis [dict get $c in_bits]
        add out_V intf O 1 axis [dict get $c out_bits]
        add ap_clk net I 1 clk
        add ap_rst_n net I 1 rst
        return $P
    }
    switch -- $ipname {
        processing_system7 {
            add DDR intf O 1 ext
            add FIXED_IO intf O 1 ext
            if {[cfg $cell PCW_USE_M_AXI_GP0]} { add M_AXI_GP0 intf O 1 axi; add M_AXI_GP0_ACLK net I 1 clk }
            if {[cfg $cell PCW_USE_M_AXI_GP1]} { add M_AXI_GP1 intf O 1 axi; add M_AXI_GP1_ACLK net I 1 clk }
            if {[cfg $cell PCW_USE_S_AXI_HP0]} { add S_AXI_HP0 intf I 1 axi; add S_AXI_HP0_ACLK net I 1 clk }
            if {[cfg $cell PCW_USE_S_AXI_HP1]} { add S_AXI_HP1 intf I 1 axi; add S_AXI_HP1_ACLK net I 1 clk }
            if {[cfg $cell PCW_EN_CLK0_PORT]} { add FCLK_CLK0 net O 0 clk }
            if {[cfg $cell PCW_EN_RST0_PORT]} { add FCLK_RESET0_N net O 0 rst }
            if {[cfg $cell PCW_USE_FABRIC_INTERRUPT] && [cfg $cell PCW_IRQ_F2P_INTR]} { add IRQ_F2P net I 1 intr }
        }
        zynq_ultra_ps_e {
            if {[cfg $cell PSU__USE__M_AXI_GP0]} { add M_AXI_HPM0_FPD intf O 1 axi; add maxihpm0_fpd_aclk net I 1 clk }
            if {[cfg $cell PSU__USE__M_AXI_GP1]} { add M_AXI_HPM1_FPD intf O 1 axi; add maxihpm1_fpd_aclk net I 1 clk }
            if {[cfg $cell PSU__USE__M_AXI_GP2]} { add M_AXI_HPM0_LPD intf O 1 axi; add maxihpm0_lpd_aclk net I 1 clk }
            if {[cfg $cell PSU__USE__S_AXI_GP2]} { add S_AXI_HP0_FPD intf I 1 axi; add saxihp0_fpd_aclk net I 1 clk }
            if {[cfg $cell PSU__FPGA_PL0_ENABLE]} { add pl_clk0 net O 0 clk }
            add pl_resetn0 net O 0 rst
            if {[cfg $cell PSU__USE__IRQ0]} { add pl_ps_irq0 net I 1 intr }
        }
        axi_dma {
            add S_AXI_LITE intf I 1 axi
            add s_axi_lite_aclk net I 1 clk
            add axi_resetn net I 1 rst
            if {[cfg $cell c_include_mm2s]} {
                add M_AXI_MM2S intf O 1 axi
                add M_AXIS_MM2S intf O 1 axis [cfg $cell c_m_axis_mm2s_tdata_width]
                add m_axi_mm2s_aclk net I 1 clk
                add mm2s_introut net O 1 intr
            }
            if {[cfg $cell c_include_s2mm]} {
                add M_AXI_S2MM intf O 1 axi
                add S_AXIS_S2MM intf I 1 axis [cfg $cell c_s_axis_s2mm_tdata_width]
                add m_axi_s2mm_aclk net I 1 clk
                add s2mm_introut net O 1 intr
            }
            if {[cfg $cell c_include_sg]} {
                add M_AXI_SG intf O 1 axi
                add m_axi_sg_aclk net I 1 clk
                if {[cfg $cell c_sg_include_stscntrl_strm]} {
                    add M_AXIS_CNTRL intf O 1 axis 32
                    add S_AXIS_STS intf I 1 axis 32
                }
            }
        }
        smartconnect - axi_interconnect {
            for {set i 0} {$i < [cfg $cell NUM_SI]} {incr i} { add [format S%02d_AXI $i] intf I 1 axi }
            for {set i 0} {$i < [cfg $cell NUM_MI]} {incr i} { add [format M%02d_AXI $i] intf O 1 axi }
            if {$ipname eq "smartconnect"} {
                add aclk net I 1 clk
                add aresetn net I 1 rst
            } else {
                add ACLK net I 1 clk
                add ARESETN net I 1 rst
                for {set i 0} {$i < [cfg $cell NUM_SI]} {incr i} { add [format S%02d_ACLK $i] net I 1 clk; add [format S%02d_ARESETN $i] net I 1 rst }
                for {set i 0} {$i < [cfg $cell NUM_MI]} {incr i} { add [format M%02d_ACLK $i] net I 1 clk; add [format M%02d_ARESETN $i] net I 1 rst }
            }
        }
        proc_sys_reset {
            add slowest_sync_clk net I 1 clk
            add ext_reset_in net I 1 rst
            add aux_reset_in net I 0 rst
            add mb_debug_sys_rst net I 0 rst
            add dcm_locked net I 0 data
            add mb_reset net O 0 rst
            add bus_struct_reset net O 0 rst
            add peripheral_reset net O 0 rst
            add interconnect_aresetn net O 0 rst
            add peripheral_aresetn net O 0 rst
        }
        xlconcat {
            for {set i 0} {$i < [cfg $cell NUM_PORTS]} {incr i} { add In$i net I 1 intr }
            add dout net O 1 intr
        }
        axis_dwidth_converter {
            add S_AXIS intf I 1 axis [expr {8 * [cfg $cell S_TDATA_NUM_BYTES]}]
            add M_AXIS intf O 1 axis [expr {8 * [cfg $cell M_TDATA_NUM_BYTES]}]
            add aclk net I 1 clk
            add aresetn net I 1 rst
        }
        default { ::stub::fail "stub has no pin model for $vl" }
    }
    return $P
}

# "/cell/pin" -> {cell pin info} or "" ; class: intf | net
proc ::viv::lookup {path class} {
    set path [string trimleft $path /]
    set parts [split $path /]
    if {[llength $parts] != 2} { return "" }
    lassign $parts cell pin
    if {![dict exists $::viv::cells $cell]} { return "" }
    set P [pins $cell]
    if {![dict exists $P $pin] || [dict get $P $pin class] ne $class} { return "" }
    return [list $cell $pin [dict get $P $pin]]
}

proc ::viv::need_bd {cmd} {
    if {$::viv::bd eq ""} { ::stub::fail "$cmd: no block design open" }
}

# ------------------------------------------------------------------------------------------------ project
proc create_project {args} {
    ::stub::record create_project {*}$args
    lassign [::stub::parse create_project {-force 0 -part 1 -in_memory 0} $args] o pos
    if {[llength $pos] != 2} { ::stub::fail "create_project: expected NAME DIR, got '$pos'" }
    if {![dict exists $o -part]} { ::stub::fail "create_project: no -part" }
    ::stub::check_part [dict get $o -part]
    lassign $pos ::viv::project ::viv::proj_dir
    if {![regexp {^[A-Za-z_][A-Za-z0-9_]*$} $::viv::project]} { ::stub::fail "create_project: bad name '$::viv::project'" }
    set ::viv::part [dict get $o -part]
    if {[file exists $::viv::proj_dir] && ![dict exists $o -force]} { ::stub::fail "create_project: $::viv::proj_dir exists (no -force)" }
    file mkdir $::viv::proj_dir
    return $::viv::project
}

proc current_project {args} {
    if {$::viv::project eq ""} { ::stub::fail "current_project: no project" }
    return $::viv::project
}

proc current_fileset {args} { return sources_1 }

proc get_board_parts {args} {
    ::stub::record get_board_parts {*}$args
    lassign [::stub::parse get_board_parts {-quiet 0 -latest_file_version 0 -filter 1} $args] o pos
    set known {}
    if {[info exists ::env(HWGEN_STUB_BOARD_PARTS)]} { set known $::env(HWGEN_STUB_BOARD_PARTS) }
    set out {}
    foreach bp $known { foreach pat $pos { if {[string match $pat $bp]} { lappend out $bp } } }
    return $out
}

proc set_property {args} {
    ::stub::record set_property {*}$args
    if {[lindex $args 0] eq "-dict"} {
        set kv [lindex $args 1]
        set objs [lrange $args 2 end]
        if {[llength $kv] % 2} { ::stub::fail "set_property -dict: odd key/value list" }
    } else {
        if {[llength $args] < 3} { ::stub::fail "set_property: expected NAME VALUE OBJECTS" }
        set kv [lrange $args 0 1]
        set objs [lrange $args 2 end]
    }
    set objs [concat {*}$objs]
    if {[llength $objs] == 0} { ::stub::fail "set_property: no object (an empty get_* result?)" }
    foreach obj $objs {
        foreach {k v} $kv {
            set cell [string trimleft $obj /]
            if {[dict exists $::viv::cells $cell]} {
                if {![string match CONFIG.* $k]} { ::stub::fail "set_property: $k on cell $cell is not a CONFIG parameter" }
                set pname [string range $k 7 end]
                set c [dict get $::viv::cells $cell]
                set ipname [lindex [split [dict get $c vlnv] :] 2]
                if {[dict get $c type] eq "module" || ![dict exists $::viv::params $ipname] ||
                    ![dict exists $::viv::params $ipname $pname]} {
                    ::stub::fail "set_property: $ipname ($cell) has no parameter $pname"
                }
                if {[string match {*$*} $v] || $v eq ""} { ::stub::fail "set_property: unsubstituted value '$v' for $k" }
                dict set ::viv::cells $cell config $pname $v
            } elseif {[::viv::lookup $obj net] ne ""} {
                lassign [::viv::lookup $obj net] cell pin
                if {[dict get $::viv::cells $cell type] ne "module"} { ::stub::fail "set_property: pin $obj is not on a module reference" }
                if {$k ni {CONFIG.ASSOCIATED_BUSIF CONFIG.ASSOCIATED_RESET CONFIG.POLARITY CONFIG.FREQ_HZ}} {
                    ::stub::fail "set_property: $k on pin $obj"
                }
                dict set ::viv::props $obj $k $v
            } elseif {$obj eq $::viv::project || $obj eq "sources_1" || [dict exists $::viv::runs $obj]} {
                dict set ::viv::props $obj $k $v
                if {$k eq "ip_repo_paths"} {
                    foreach r $v { if {![file isdirectory $r]} { ::stub::fail "set_property ip_repo_paths: $r is not a directory" } }
                    set ::viv::ip_repos $v
                }
                if {$k eq "board_part" && [lsearch -exact [get_board_parts -quiet *] $v] < 0} {
                    ::stub::fail "set_property board_part: unknown board part '$v'"
                }
            } else {
                ::stub::fail "set_property: unknown object '$obj'"
            }
        }
    }
}

# implementation timing figures: HWGEN_STUB_WNS / _TNS / _WHS / _THS override the met-timing defaults
proc ::viv::stat {name default} {
    if {![dict exists $::viv::runs impl_1] || [dict get $::viv::runs impl_1] ne "done"} {
        ::stub::fail "get_property STATS.$name: impl_1 has not run"
    }
    if {[info exists ::env(HWGEN_STUB_$name)]} { return $::env(HWGEN_STUB_$name) }
    return $default
}

proc get_property {args} {
    lassign [::stub::parse get_property {-quiet 0} $args] o pos
    lassign $pos name obj
    if {[dict exists $::viv::runs $obj]} {
        switch -- $name {
            PROGRESS { return [expr {[dict get $::viv::runs $obj] eq "done" ? "100%" : "0%"}] }
            DIRECTORY { return [file join $::viv::proj_dir $::viv::project.runs $obj] }
            STATS.WNS { return [::viv::stat WNS 0.125] }
            STATS.TNS { return [::viv::stat TNS 0.000] }
            STATS.WHS { return [::viv::stat WHS 0.031] }
            STATS.THS { return [::viv::stat THS 0.000] }
        }
    }
    if {[dict exists $::viv::props $obj $name]} { return [dict get $::viv::props $obj $name] }
    ::stub::fail "get_property: unknown property $name of '$obj'"
}

proc update_ip_catalog {args} { ::stub::record update_ip_catalog {*}$args }
proc update_compile_order {args} { ::stub::record update_compile_order {*}$args }

proc ::viv::catalog_all {} {
    set all $::viv::catalog
    foreach r $::viv::ip_repos {
        foreach f [glob -nocomplain -directory $r component.xml */component.xml] {
            if {[regexp -line {^vlnv (\S+)} [::stub::read_file $f] -> v]} { lappend all $v }
        }
    }
    return $all
}

proc ::viv::repo_ip {vlnv} {
    foreach r $::viv::ip_repos {
        foreach f [glob -nocomplain -directory $r component.xml */component.xml] {
            set t [::stub::read_file $f]
            if {[regexp -line {^vlnv (\S+)} $t -> v] && $v eq $vlnv} { return $t }
        }
    }
    return ""
}

proc get_ipdefs {args} {
    ::stub::record get_ipdefs {*}$args
    lassign [::stub::parse get_ipdefs {-all 0 -quiet 0 -filter 1} $args] o pos
    set out {}
    foreach v [::viv::catalog_all] { foreach pat $pos { if {[string match $pat $v]} { lappend out $v } } }
    return $out
}

proc add_files {args} {
    ::stub::record add_files {*}$args
    lassign [::stub::parse add_files {-norecurse 0 -fileset 1 -quiet 0} $args] o pos
    set pos [concat {*}$pos]
    if {[llength $pos] == 0} { ::stub::fail "add_files: no files" }
    foreach f $pos {
        if {![file isfile $f]} { ::stub::fail "add_files: '$f' does not exist" }
        lappend ::viv::files [file normalize $f]
    }
}

proc get_files {args} {
    lassign [::stub::parse get_files {-quiet 0 -all 0 -of_objects 1} $args] o pos
    set out {}
    foreach f $::viv::files { foreach pat $pos { if {[string match $pat [file tail $f]] || $pat eq $f} { lappend out $f } } }
    if {$out eq "" && ![dict exists $o -quiet]} { ::stub::fail "get_files: no file matches '$pos'" }
    return $out
}

# ------------------------------------------------------------------------------------------------ block design
proc create_bd_design {args} {
    ::stub::record create_bd_design {*}$args
    if {$::viv::project eq ""} { ::stub::fail "create_bd_design: no project" }
    if {[llength $args] != 1 || ![regexp {^[A-Za-z_][A-Za-z0-9_]*$} [lindex $args 0]]} { ::stub::fail "create_bd_design: bad name '$args'" }
    set ::viv::bd [lindex $args 0]
    set f [file join $::viv::proj_dir $::viv::project.srcs sources_1 bd $::viv::bd $::viv::bd.bd]
    ::stub::write_file $f "stub block design\n"
    lappend ::viv::files [file normalize $f]
}

proc create_bd_cell {args} {
    ::stub::record create_bd_cell {*}$args
    ::viv::need_bd create_bd_cell
    lassign [::stub::parse create_bd_cell {-type 1 -vlnv 1 -reference 1} $args] o pos
    if {[llength $pos] != 1 || ![regexp {^[A-Za-z_][A-Za-z0-9_]*$} [lindex $pos 0]]} { ::stub::fail "create_bd_cell: bad cell name '$pos'" }
    set name [lindex $pos 0]
    if {[dict exists $::viv::cells $name]} { ::stub::fail "create_bd_cell: cell $name exists" }
    set type [dict get $o -type]
    if {$type eq "ip"} {
        set v [dict get $o -vlnv]
        if {$v ni [::viv::catalog_all]} { ::stub::fail "create_bd_cell: unknown IP VLNV '$v'" }
        set c [dict create vlnv $v type ip config [dict create]]
        set t [::viv::repo_ip $v]
        if {$t ne ""} {
            regexp -line {^in0_V (\d+)} $t -> ib
            regexp -line {^out_V (\d+)} $t -> ob
            regexp -line {^part (\S+)} $t -> ipart
            if {$ipart ne $::viv::part} { ::stub::fail "create_bd_cell: IP $v was synthesized for $ipart, the project is $::viv::part" }
            dict set c in_bits $ib
            dict set c out_bits $ob
            if {[regexp -line {^modules (\S+)} $t -> mods]} { dict set c modules $mods }
        }
    } elseif {$type eq "module"} {
        set ref [dict get $o -reference]
        set found 0
        foreach f $::viv::files {
            if {![string match *.v $f] && ![string match *.sv $f]} { continue }
            set t [::stub::read_file $f]
            if {[regexp "module\\s+$ref\\s*\[(#\]" $t]} {
                set found 1
                if {![regexp {\[\s*(\d+)\s*:\s*0\s*\]\s*in0_V_TDATA} $t -> hi_in] ||
                    ![regexp {\[\s*(\d+)\s*:\s*0\s*\]\s*out_V_TDATA} $t -> hi_out]} {
                    ::stub::fail "create_bd_cell: module $ref has no in0_V_TDATA / out_V_TDATA ports"
                }
                foreach port {ap_clk ap_rst_n in0_V_TVALID in0_V_TREADY out_V_TVALID out_V_TREADY out_V_TLAST} {
                    if {![regexp "\\m$port\\M" $t]} { ::stub::fail "create_bd_cell: module $ref has no port $port" }
                }
                break
            }
        }
        if {!$found} { ::stub::fail "create_bd_cell: module $ref is not in the project's Verilog files" }
        set c [dict create vlnv user:module_ref:$ref:1.0 type module config [dict create] \
            in_bits [expr {$hi_in + 1}] out_bits [expr {$hi_out + 1}]]
    } else {
        ::stub::fail "create_bd_cell: unknown -type '$type'"
    }
    dict set ::viv::cells $name $c
    lappend ::viv::order $name
    return /$name
}

proc get_bd_cells {args} {
    lassign [::stub::parse get_bd_cells {-quiet 0 -hierarchical 0} $args] o pos
    set out {}
    dict for {n c} $::viv::cells { foreach pat $pos { if {[string match [string trimleft $pat /] $n]} { lappend out /$n } } }
    return $out
}

proc get_bd_pins {args} {
    lassign [::stub::parse get_bd_pins {-quiet 0 -of_objects 1} $args] o pos
    set out {}
    foreach p $pos { if {[::viv::lookup $p net] ne ""} { lappend out /[string trimleft $p /] } }
    if {$out eq "" && ![dict exists $o -quiet]} { ::stub::fail "get_bd_pins: no pin '$pos'" }
    return $out
}

proc get_bd_intf_pins {args} {
    lassign [::stub::parse get_bd_intf_pins {-quiet 0 -of_objects 1} $args] o pos
    set out {}
    foreach p $pos { if {[::viv::lookup $p intf] ne ""} { lappend out /[string trimleft $p /] } }
    if {$out eq "" && ![dict exists $o -quiet]} { ::stub::fail "get_bd_intf_pins: no interface pin '$pos'" }
    return $out
}

proc get_bd_intf_ports {args} {
    lassign [::stub::parse get_bd_intf_ports {-quiet 0} $args] o pos
    set out {}
    foreach p $pos { if {[dict exists $::viv::ports [string trimleft $p /]]} { lappend out /[string trimleft $p /] } }
    return $out
}

proc create_bd_intf_port {args} {
    ::stub::record create_bd_intf_port {*}$args
    ::viv::need_bd create_bd_intf_port
    lassign [::stub::parse create_bd_intf_port {-mode 1 -vlnv 1} $args] o pos
    if {[dict get $o -vlnv] ni $::viv::intf_vlnvs} { ::stub::fail "create_bd_intf_port: unknown interface VLNV [dict get $o -vlnv]" }
    if {[dict get $o -mode] ni {Master Slave}} { ::stub::fail "create_bd_intf_port: bad -mode" }
    dict set ::viv::ports [lindex $pos 0] intf
    return /[lindex $pos 0]
}

proc apply_bd_automation {args} {
    ::stub::record apply_bd_automation {*}$args
    ::viv::need_bd apply_bd_automation
    lassign [::stub::parse apply_bd_automation {-rule 1 -config 1} $args] o pos
    set cell [string trimleft [lindex $pos 0] /]
    if {![dict exists $::viv::cells $cell]} { ::stub::fail "apply_bd_automation: no cell '$cell'" }
    set rule [dict get $o -rule]
    set ip [lindex [split [dict get $::viv::cells $cell vlnv] :] 2]
    if {$rule ne "xilinx.com:bd_rule:$ip"} { ::stub::fail "apply_bd_automation: rule $rule does not apply to $ip" }
    set cfg [dict get $o -config]
    if {[llength $cfg] % 2} { ::stub::fail "apply_bd_automation: -config is not a key/value list" }
    if {[dict exists $cfg apply_board_preset] && [dict get $cfg apply_board_preset] eq "1" &&
        ![dict exists $::viv::props $::viv::project board_part]} {
        ::stub::fail "apply_bd_automation: apply_board_preset without a board_part"
    }
    if {[dict exists $cfg make_external]} {
        foreach intf [split [dict get $cfg make_external] ", "] {
            if {$intf eq ""} { continue }
            if {[::viv::lookup $cell/$intf intf] eq ""} { ::stub::fail "apply_bd_automation: $cell has no $intf" }
            dict set ::viv::ports $intf intf
            ::viv::connect_intf /$cell/$intf /$intf
        }
    }
}

proc ::viv::connect_intf {a b} {
    foreach p [list $a $b] {
        if {[dict exists $::viv::intf_conn $p]} { ::stub::fail "connect_bd_intf_net: $p is already connected (to [dict get $::viv::intf_conn $p])" }
    }
    dict set ::viv::intf_conn $a $b
    dict set ::viv::intf_conn $b $a
}

proc connect_bd_intf_net {args} {
    ::stub::record connect_bd_intf_net {*}$args
    ::viv::need_bd connect_bd_intf_net
    set objs [concat {*}$args]
    if {[llength $objs] != 2} { ::stub::fail "connect_bd_intf_net: expected two interface objects, got '$args'" }
    set infos {}
    foreach p $objs {
        set i [::viv::lookup $p intf]
        if {$i eq "" && ![dict exists $::viv::ports [string trimleft $p /]]} { ::stub::fail "connect_bd_intf_net: no interface '$p'" }
        lappend infos $i
    }
    lassign $infos ia ib
    if {$ia ne "" && $ib ne ""} {
        set da [dict get [lindex $ia 2] dir]
        set db [dict get [lindex $ib 2] dir]
        if {$da eq $db} { ::stub::fail "connect_bd_intf_net: $objs are both [expr {$da eq "O" ? "masters" : "slaves"}]" }
        set ka [dict get [lindex $ia 2] kind]
        set kb [dict get [lindex $ib 2] kind]
        if {$ka ne $kb} { ::stub::fail "connect_bd_intf_net: cannot connect $ka [lindex $objs 0] to $kb [lindex $objs 1]" }
        if {$ka eq "axis"} {
            set wa [dict get [lindex $ia 2] width]
            set wb [dict get [lindex $ib 2] width]
            if {$wa != $wb} { ::stub::fail "connect_bd_intf_net: AXI4-Stream TDATA widths differ: [lindex $objs 0] $wa bits, [lindex $objs 1] $wb bits" }
        }
    }
    ::viv::connect_intf /[string trimleft [lindex $objs 0] /] /[string trimleft [lindex $objs 1] /]
}

proc connect_bd_net {args} {
    ::stub::record connect_bd_net {*}$args
    ::viv::need_bd connect_bd_net
    set objs [concat {*}$args]
    if {[llength $objs] < 2} { ::stub::fail "connect_bd_net: needs at least two pins, got '$args'" }
    set driver ""
    set loads {}
    foreach p $objs {
        set i [::viv::lookup $p net]
        if {$i eq ""} { ::stub::fail "connect_bd_net: no pin '$p'" }
        set p /[string trimleft $p /]
        if {[dict get [lindex $i 2] dir] eq "O"} {
            if {$driver ne ""} { ::stub::fail "connect_bd_net: two drivers $driver and $p" }
            set driver $p
            set dkind [dict get [lindex $i 2] kind]
        } else {
            lappend loads $p [dict get [lindex $i 2] kind]
        }
    }
    if {$driver eq ""} { ::stub::fail "connect_bd_net: no driver among $objs" }
    foreach {p k} $loads {
        if {[dict exists $::viv::drivers $p]} { ::stub::fail "connect_bd_net: $p is already driven by [dict get $::viv::drivers $p]" }
        if {$k ne $dkind && $k ne "data"} { ::stub::fail "connect_bd_net: $dkind output $driver drives $k input $p" }
        dict set ::viv::drivers $p $driver
        dict incr ::viv::sinks $driver
    }
}

proc assign_bd_address {args} {
    ::stub::record assign_bd_address {*}$args
    ::viv::need_bd assign_bd_address
    set ::viv::addressed 1
}

proc validate_bd_design {args} {
    ::stub::record validate_bd_design {*}$args
    ::viv::need_bd validate_bd_design
    set errs {}
    dict for {cell c} $::viv::cells {
        set P [::viv::pins $cell]
        dict for {pin info} $P {
            set path /$cell/$pin
            if {![dict get $info req]} { continue }
            if {[dict get $info class] eq "intf"} {
                if {![dict exists $::viv::intf_conn $path]} { lappend errs "interface $path is not connected" }
            } elseif {[dict get $info dir] eq "I"} {
                if {![dict exists $::viv::drivers $path]} { lappend errs "input pin $path is not driven" }
            } else {
                if {![dict exists $::viv::sinks $path]} { lappend errs "output pin $path is not connected" }
            }
        }
    }
    # connections made before a reconfiguration must still exist
    foreach p [concat [dict keys $::viv::intf_conn] [dict keys $::viv::drivers]] {
        if {[string match /*/* $p] && [::viv::lookup $p intf] eq "" && [::viv::lookup $p net] eq ""} {
            lappend errs "connected pin $p no longer exists"
        }
    }
    dict for {cell c} $::viv::cells {
        if {[lindex [split [dict get $c vlnv] :] 2] ne "axi_dma"} { continue }
        foreach dir {mm2s s2mm} sw {c_m_axis_mm2s_tdata_width c_s_axis_s2mm_tdata_width} {
            set mm [::viv::cfg $cell c_m_axi_${dir}_data_width]
            set s [::viv::cfg $cell $sw]
            if {$mm ni {32 64 128 256 512 1024}} { lappend errs "$cell: c_m_axi_${dir}_data_width $mm is not allowed" }
            if {$s ni {8 16 32 64 128 256 512 1024}} { lappend errs "$cell: $sw $s is not allowed" }
            if {[string is integer -strict $s] && [string is integer -strict $mm] && $s > $mm} { lappend errs "$cell: stream width $s > memory-mapped width $mm" }
        }
    }
    if {!$::viv::addressed} { lappend errs "addresses not assigned (assign_bd_address)" }
    if {[llength $errs]} { ::stub::fail "validate_bd_design:\n  [join $errs "\n  "]" }
    set ::viv::validated 1
}

proc save_bd_design {args} { ::stub::record save_bd_design {*}$args; ::viv::need_bd save_bd_design }

proc generate_target {args} {
    ::stub::record generate_target {*}$args
    if {!$::viv::validated} { ::stub::fail "generate_target: block design not validated" }
    set hwh [file join $::viv::proj_dir $::viv::project.gen sources_1 bd $::viv::bd hw_handoff $::viv::bd.hwh]
    ::stub::write_file $hwh [::viv::hwh]
}

# The hardware handoff as PYNQ reads it: every cell a MODULE (INSTANCE, MODTYPE, VLNV, its CONFIG parameters with
# the IP's defaults), each AXI-Lite slave a MEMRANGE at the address assign_bd_address gave it (64 KiB windows from
# the PS's general-purpose master base, in creation order).
proc ::viv::hwh {} {
    set base 0x40400000
    dict for {cell c} $::viv::cells {
        if {[string match *zynq_ultra_ps_e* [dict get $c vlnv]]} { set base 0xA0000000 }
    }
    set x "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\" ?>\n<EDKSYSTEM>\n  <MODULES>\n"
    set slot 0
    foreach cell $::viv::order {
        set c [dict get $::viv::cells $cell]
        set vl [dict get $c vlnv]
        set ipname [lindex [split $vl :] 2]
        append x "    <MODULE FULLNAME=\"/$cell\" INSTANCE=\"$cell\" MODTYPE=\"$ipname\" VLNV=\"$vl\">\n      <PARAMETERS>\n"
        set cfg [dict create]
        if {[dict get $c type] eq "ip" && [dict exists $::viv::params $ipname]} { set cfg [dict get $::viv::params $ipname] }
        set cfg [dict merge $cfg [dict get $c config]]
        dict for {k v} $cfg { append x "        <PARAMETER NAME=\"$k\" VALUE=\"$v\"/>\n" }
        append x "      </PARAMETERS>\n"
        if {[dict exists [::viv::pins $cell] S_AXI_LITE]} {
            set lo [expr {$base + $slot * 0x10000}]
            append x [format "      <MEMORYMAP>\n        <MEMRANGE ADDRESSBLOCK=\"Reg\" BASENAME=\"C_BASEADDR\" BASEVALUE=\"0x%08X\" HIGHNAME=\"C_HIGHADDR\" HIGHVALUE=\"0x%08X\" INSTANCE=\"%s\" MEMTYPE=\"REGISTER\"/>\n      </MEMORYMAP>\n" $lo [expr {$lo + 0xFFFF}] $cell]
            incr slot
        }
        append x "    </MODULE>\n"
    }
    append x "  </MODULES>\n</EDKSYSTEM>\n"
    return $x
}

proc make_wrapper {args} {
    ::stub::record make_wrapper {*}$args
    lassign [::stub::parse make_wrapper {-files 1 -top 0 -fileset 1 -import 0} $args] o pos
    set f [dict get $o -files]
    if {[llength $f] != 1 || ![file isfile [lindex $f 0]] || [file extension [lindex $f 0]] ne ".bd"} {
        ::stub::fail "make_wrapper: -files must name the .bd file, got '$f'"
    }
    if {!$::viv::validated} { ::stub::fail "make_wrapper: block design not validated" }
    set w [file join $::viv::proj_dir $::viv::project.gen sources_1 bd $::viv::bd hdl ${::viv::bd}_wrapper.v]
    ::stub::write_file $w "module ${::viv::bd}_wrapper(); endmodule\n"
    set ::viv::wrapper [file normalize $w]
    return $w
}

proc get_runs {args} {
    lassign [::stub::parse get_runs {-quiet 0} $args] o pos
    foreach r $pos { if {![dict exists $::viv::runs $r]} { ::stub::fail "get_runs: no run '$r' (not launched)" } }
    return $pos
}

proc launch_runs {args} {
    ::stub::record launch_runs {*}$args
    lassign [::stub::parse launch_runs {-jobs 1 -to_step 1 -quiet 0} $args] o pos
    if {[dict exists $o -jobs] && ![string is integer -strict [dict get $o -jobs]]} { ::stub::fail "launch_runs: -jobs must be an integer" }
    foreach r $pos {
        switch -- $r {
            synth_1 {
                if {$::viv::wrapper eq "" || $::viv::wrapper ni $::viv::files} { ::stub::fail "launch_runs synth_1: the wrapper is not in the project" }
                if {![dict exists $::viv::props sources_1 top] || [dict get $::viv::props sources_1 top] ne "${::viv::bd}_wrapper"} {
                    ::stub::fail "launch_runs synth_1: top is not ${::viv::bd}_wrapper"
                }
                # one definition per module name: the project's Verilog files, and the modules of its HLS IPs
                set defined [dict create]
                foreach f $::viv::files {
                    if {![string match *.v $f] && ![string match *.sv $f]} { continue }
                    foreach {- m} [regexp -all -inline -line {^\s*module\s+([A-Za-z_][A-Za-z0-9_$]*)} [::stub::read_file $f]] {
                        if {[dict exists $defined $m]} {
                            ::stub::fail "launch_runs synth_1: module $m is defined twice ([dict get $defined $m] and [file tail $f])"
                        }
                        dict set defined $m [file tail $f]
                    }
                }
                set ipmods [dict create]
                dict for {cell c} $::viv::cells {
                    if {![dict exists $c modules]} { continue }
                    set m [dict get $c modules]
                    if {[dict exists $ipmods $m] && [lindex [dict get $ipmods $m] 1] ne [dict get $c vlnv]} {
                        ::stub::fail "launch_runs synth_1: IPs [lindex [dict get $ipmods $m] 1] and [dict get $c vlnv] both generate modules $m*"
                    }
                    dict set ipmods $m [list $cell [dict get $c vlnv]]
                }
                # synthesis reads the memory files a Verilog source names ($readmemh / parameter defaults)
                set tails {}
                foreach f $::viv::files { lappend tails [file tail $f] }
                foreach f $::viv::files {
                    if {![string match *.v $f] && ![string match *.sv $f]} { continue }
                    foreach {- m} [regexp -all -inline {"([^"\s]+\.(?:mem|dat|hex))"} [::stub::read_file $f]] {
                        if {[lsearch -exact $tails [file tail $m]] < 0} {
                            ::stub::fail "launch_runs synth_1: [file tail $f] reads $m, which is not in the project"
                        }
                    }
                }
            }
            impl_1 {
                if {![dict exists $::viv::runs synth_1] || [dict get $::viv::runs synth_1] ne "done"} { ::stub::fail "launch_runs impl_1: synth_1 not done" }
                if {![dict exists $o -to_step] || [dict get $o -to_step] ne "write_bitstream"} { ::stub::fail "launch_runs impl_1: no -to_step write_bitstream" }
            }
            default { ::stub::fail "launch_runs: unknown run $r" }
        }
        dict set ::viv::runs $r launched
    }
}

proc wait_on_run {args} {
    ::stub::record wait_on_run {*}$args
    lassign [::stub::parse wait_on_run {-timeout 1 -quiet 0} $args] o pos
    foreach r $pos {
        if {![dict exists $::viv::runs $r]} { ::stub::fail "wait_on_run: $r not launched" }
        dict set ::viv::runs $r done
        if {$r eq "impl_1"} {
            ::stub::write_file [file join $::viv::proj_dir $::viv::project.runs impl_1 ${::viv::bd}_wrapper.bit] "stub bitstream\n"
        }
    }
}

proc open_run {args} {
    ::stub::record open_run {*}$args
    if {![dict exists $::viv::runs [lindex $args 0]]} { ::stub::fail "open_run: [lindex $args 0] not run" }
}

proc ::viv::report {cmd args} {
    ::stub::record $cmd {*}$args
    lassign [::stub::parse $cmd {-file 1 -force 0 -fixed 0 -include_bit 0 -max_paths 1} $args] o pos
    if {![dict exists $o -file]} { ::stub::fail "$cmd: no -file" }
    ::stub::write_file [dict get $o -file] "stub $cmd\n"
}
proc report_timing_summary {args} { ::viv::report report_timing_summary {*}$args }
proc report_utilization {args} { ::viv::report report_utilization {*}$args }
proc write_hw_platform {args} {
    if {![dict exists $::viv::runs impl_1]} { ::stub::fail "write_hw_platform: no implementation" }
    ::viv::report write_hw_platform {*}$args
}
