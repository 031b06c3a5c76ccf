// hwgen: multi-threshold activation with PE folding (static header).
//
// Semantics (hwgen.layers.kernels.apply_thresholds): out[c] = OUT_BASE + #{t : x[c] >= T[c][t]}; for a BIPOLAR
// output the caller passes OUT_BASE = 0 and the count (0/1) is the emitted bit.
// Streams: C/PE words per vector, word f carrying channels f*PE .. f*PE+PE-1 (channel f*PE+p at element p),
// num_vectors vectors (pixels) per frame; the output has the same order, OUT_BITS per element.
// thresholds[p][f][k] = T[f*PE+p][k]; the caller partitions it on dimensions 1 and 3.
#ifndef HWGEN_THRESHOLDING_HPP
#define HWGEN_THRESHOLDING_HPP

#include "hwgen_common.hpp"

namespace hwgen {

template <unsigned C, unsigned PE, unsigned T, unsigned IN_BITS, bool IN_SIGNED, bool IN_BIPOLAR,
          unsigned OUT_BITS, unsigned THR_BITS, int OUT_BASE, typename TMEM>
void thresholding(hwgen::stream<ap_uint<PE * IN_BITS> >& in, hwgen::stream<ap_uint<PE * OUT_BITS> >& out,
                  const TMEM thresholds[PE][C / PE][T],  // ap_int<THR_BITS> (C simulation: rom.j2)
                  const unsigned num_vectors) {
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(T > 0, "thresholding needs at least one threshold per channel");
    enum { FOLDS = C / PE };
    typedef Elem<IN_BITS, IN_SIGNED, IN_BIPOLAR> InE;
    typedef ap_uint<clog2<T + 1>::value + 1> cnt_t;

    unsigned fold = 0;
    const unsigned total = num_vectors * FOLDS;
thr_loop:
    for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<PE * IN_BITS> x = in.read();
        ap_uint<PE * OUT_BITS> oword = 0;
#ifdef HWGEN_CSIM_NATIVE  // the loop below on 64-bit integers (hwgen_native.hpp)
        native::u64 xl[(PE * IN_BITS + 63) / 64], ol[(PE * OUT_BITS + 63) / 64] = {0};
        native::to_limbs<PE * IN_BITS>(x, xl);
        for (unsigned p = 0; p < PE; p++) {
            const native::i64 v = native::value<IN_BITS, IN_SIGNED, IN_BIPOLAR>(native::field<IN_BITS>(xl, p));
            native::put<OUT_BITS>(ol, p, native::out_bits<OUT_BITS>(OUT_BASE + (native::i64)native::count_ge(
                                                                               v, &thresholds[p][fold][0], T)));
        }
        oword = native::from_limbs<PE * OUT_BITS>(ol);
#else
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const typename InE::type v = InE::decode(slice<IN_BITS>(x, p));
            cnt_t cnt = 0;
            for (unsigned k = 0; k < T; k++) {
#pragma HLS UNROLL
                if (v >= thresholds[p][fold][k]) cnt++;
            }
            const ap_int<OUT_BITS + 34> o = ap_int<OUT_BITS + 34>(OUT_BASE) + cnt;
            oword.range((p + 1) * OUT_BITS - 1, p * OUT_BITS) = o.range(OUT_BITS - 1, 0);
        }
#endif
        out.write(oword);
        fold = (fold == FOLDS - 1) ? 0 : fold + 1;
    }
}

}  // namespace hwgen

#endif
