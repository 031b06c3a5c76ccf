// hwgen: vector-vector(-activation) unit, the matrix part of a depthwise convolution (static header).
//
// Semantics (hwgen.layers.conv_kernels.vvau): per output pixel acc[c] = sum_k x[k][c] * W[c][k]; with
// thresholds out[c] = OUT_BASE + #{t : acc[c] >= T[c][t]}, without them acc[c] truncated to OUT_BITS.
//
// Stream: a word holds SIMD kernel positions x PE channels of channel fold f (element s*PE+p = kernel position
// kt*SIMD+s of channel f*PE+p); TILES = K/SIMD words per fold and pixel, FOLDS = C/PE folds. DW_ORDER false
// (the generator's conv order, SIMD = 1): kernel position outer, fold inner, so each fold keeps its partial sum
// in acc[p][f] between words; DW_ORDER true: fold outer, kernel tiles inner. Output word f (channels f*PE+p at
// element p) is written with the fold's last word: FOLDS words per pixel, one input word per iteration.
//
// Memories (as an MVAU with MW = K, MH = C): weights[p][f * TILES + t] holds W[f*PE+p][t*SIMD .. t*SIMD+SIMD-1]
// packed (element s at bits [s*W_BITS, ...)); thresholds[p][f][k] holds T[f*PE+p][k].
#ifndef HWGEN_VVAU_HPP
#define HWGEN_VVAU_HPP

#include "hwgen_common.hpp"

namespace hwgen {

template <unsigned C, unsigned K, unsigned PE, unsigned SIMD, unsigned T,
          unsigned IN_BITS, bool IN_SIGNED, bool IN_BIPOLAR,
          unsigned W_BITS, bool W_SIGNED, bool W_BIPOLAR,
          unsigned OUT_BITS, unsigned ACC_BITS, unsigned THR_BITS,
          bool HAS_THR, int OUT_BASE, bool DW_ORDER>
void vvau(hwgen::stream<ap_uint<PE * SIMD * IN_BITS> >& in, hwgen::stream<ap_uint<PE * OUT_BITS> >& out,
          const ap_uint<SIMD * W_BITS> weights[PE][(C / PE) * (K / SIMD)],
          const ap_int<THR_BITS> thresholds[PE][C / PE][(T > 0 ? T : 1)],
          const unsigned num_vectors) {
    static_assert(K % SIMD == 0, "SIMD must divide K");
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(DW_ORDER || SIMD == 1, "the conv window order carries one kernel position per word");
    static_assert(!HAS_THR || T > 0, "thresholds enabled but T == 0");
    enum { TILES = K / SIMD, FOLDS = C / PE };
    typedef Elem<IN_BITS, IN_SIGNED, IN_BIPOLAR> InE;
    typedef Elem<W_BITS, W_SIGNED, W_BIPOLAR> WE;
    typedef ap_int<ACC_BITS> acc_t;
    typedef ap_uint<clog2<T + 1>::value + 1> cnt_t;

    acc_t acc[PE][FOLDS];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=1

    unsigned tile = 0;  // kernel tile within the pixel
    unsigned fold = 0;  // channel fold
    const unsigned total = num_vectors * TILES * FOLDS;
vvau_loop:
    for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<PE * SIMD * IN_BITS> x = in.read();
        ap_uint<PE * OUT_BITS> oword = 0;
    pe_loop:
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<SIMD * W_BITS> w = weights[p][fold * TILES + tile];
            acc_t a = (tile == 0) ? acc_t(0) : acc[p][fold];
        simd_loop:
            for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                const typename InE::type xv = InE::decode(slice<IN_BITS>(x, s * PE + p));
                const typename WE::type wv = WE::decode(slice<W_BITS>(w, s));
                a += xv * wv;
            }
            acc[p][fold] = a;
            if (tile == TILES - 1) {
                ap_uint<OUT_BITS> o;
                if (HAS_THR) {
                    cnt_t cnt = 0;
                    for (unsigned k = 0; k < (T > 0 ? T : 1); k++) {
#pragma HLS UNROLL
                        if (a >= thresholds[p][fold][k]) cnt++;
                    }
                    const ap_int<OUT_BITS + 34> v = ap_int<OUT_BITS + 34>(OUT_BASE) + cnt;
                    o = v.range(OUT_BITS - 1, 0);
                } else {
                    const ap_int<(OUT_BITS > ACC_BITS ? OUT_BITS : ACC_BITS)> v = a;  // sign-extends
                    o = v.range(OUT_BITS - 1, 0);
                }
                oword.range((p + 1) * OUT_BITS - 1, p * OUT_BITS) = o;
            }
        }
        if (tile == TILES - 1) out.write(oword);
        // advance (kernel tile, fold) in stream order
        if (DW_ORDER) {
            if (tile == TILES - 1) {
                tile = 0;
                fold = (fold == FOLDS - 1) ? 0 : fold + 1;
            } else {
                tile++;
            }
        } else {
            if (fold == FOLDS - 1) {
                fold = 0;
                tile = (tile == TILES - 1) ? 0 : tile + 1;
            } else {
                fold++;
            }
        }
    }
}

}  // namespace hwgen

#endif
