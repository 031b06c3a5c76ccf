hwgen_top.v
hwgen_top_MVAU_0.v
hwgen_top__dwc0.v
hwgen_top__fifo0.v
hwgen_top_MVAU_1.v
hwgen_top__fifo1.v
hwgen_top_MVAU_2.v
