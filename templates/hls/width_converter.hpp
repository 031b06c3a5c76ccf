// hwgen: element-aligned stream width converter (static header).
//
// Re-packs a stream of IN_E elements per word into OUT_E elements per word (BITS bits each), keeping element
// order: element i of the flat sequence sits at element i % N of word i / N on both sides. ELEMS elements per
// vector must be a multiple of IN_E and of OUT_E. Each loop iteration either reads or writes one word.
#ifndef HWGEN_WIDTH_CONVERTER_HPP
#define HWGEN_WIDTH_CONVERTER_HPP

#include "hwgen_common.hpp"

namespace hwgen {

template <unsigned IN_E, unsigned OUT_E, unsigned BITS, unsigned ELEMS>
void width_converter(hwgen::stream<ap_uint<IN_E * BITS> >& in, hwgen::stream<ap_uint<OUT_E * BITS> >& out,
                     const unsigned num_vectors) {
    static_assert(ELEMS % IN_E == 0 && ELEMS % OUT_E == 0, "ELEMS must be a multiple of IN_E and OUT_E");
    enum { IN_WORDS = ELEMS / IN_E, OUT_WORDS = ELEMS / OUT_E, BUF_E = IN_E + OUT_E };
    ap_uint<BUF_E * BITS> buf = 0;
    ap_uint<clog2<BUF_E + 1>::value + 1> held = 0;  // elements in buf
    const unsigned total = num_vectors * (IN_WORDS + OUT_WORDS);
wc_loop:
    for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II=1
        if (held >= OUT_E) {
            out.write(buf.range(OUT_E * BITS - 1, 0));
            buf = buf >> (OUT_E * BITS);
            held -= OUT_E;
        } else {
            ap_uint<BUF_E * BITS> w = in.read();
            buf |= w << (held * BITS);
            held += IN_E;
        }
    }
}

}  // namespace hwgen

#endif
