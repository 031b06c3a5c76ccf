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
// II=1: the caller (templates/hls/vvau.hpp.j2) declares the accumulators, acc[PE][AF], with their pragmas: in the
// depthwise order a fold's TILES words are consecutive, so AF = 1 and acc is registers; in the window order
// acc[p][f] is read every FOLDS cycles, written back in the cycle it is read: AF = FOLDS, a RAM whose true
// dependence has distance FOLDS (declared as such: never `dependent=false`, which would be wrong whenever the
// read-to-write path is longer than FOLDS cycles).
//
// Memories (as an MVAU with MW = K, MH = C): weights[p][f * TILES + t] holds W[f*PE+p][t*SIMD .. t*SIMD+SIMD-1]
// packed (element s at bits [s*W_BITS, ...)); thresholds[p][f][k] holds T[f*PE+p][k].
#ifndef HWGEN_VVAU_HPP
#define HWGEN_VVAU_HPP

#include "hwgen_common.hpp"

namespace hwgen {

// The accumulator type: ap_int<ACC_BITS>; in C simulation a 64-bit integer (exact: hwgen_native.hpp).
template <unsigned ACC_BITS>
struct vvau_acc {
#ifdef HWGEN_CSIM_NATIVE
    typedef typename select_type<(ACC_BITS <= 62), long long, ap_int<ACC_BITS> >::type type;
#else
    typedef ap_int<ACC_BITS> type;
#endif
};

template <unsigned C, unsigned K, unsigned PE, unsigned SIMD, unsigned T,
          unsigned IN_BITS, bool IN_SIGNED, bool IN_BIPOLAR,
          unsigned W_BITS, bool W_SIGNED, bool W_BIPOLAR,
          unsigned OUT_BITS, unsigned ACC_BITS, unsigned THR_BITS,
          bool HAS_THR, int OUT_BASE, bool DW_ORDER, unsigned AF, typename WMEM, typename TMEM>
void vvau(hwgen::stream<ap_uint<PE * SIMD * IN_BITS> >& in, hwgen::stream<ap_uint<PE * OUT_BITS> >& out,
          const WMEM weights[PE][(C / PE) * (K / SIMD)],  // ap_uint<SIMD * W_BITS> (C simulation: rom.j2)
          const TMEM thresholds[PE][C / PE][(T > 0 ? T : 1)],  // ap_int<THR_BITS>
          typename vvau_acc<ACC_BITS>::type acc[PE][AF], const unsigned num_vectors) {
#pragma HLS INLINE
    static_assert(K % SIMD == 0, "SIMD must divide K");
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(DW_ORDER || SIMD == 1, "the conv window order carries one kernel position per word");
    static_assert(!HAS_THR || T > 0, "thresholds enabled but T == 0");
    static_assert(AF == (DW_ORDER ? 1 : C / PE), "acc: one fold in the depthwise order, every fold in the window order");
    enum { TILES = K / SIMD, FOLDS = C / PE };
    typedef Elem<IN_BITS, IN_SIGNED, IN_BIPOLAR> InE;
    typedef Elem<W_BITS, W_SIGNED, W_BIPOLAR> WE;
    typedef typename vvau_acc<ACC_BITS>::type acc_t;
    typedef ap_uint<clog2<T + 1>::value + 1> cnt_t;

    unsigned tile = 0;  // kernel tile within the pixel
    unsigned fold = 0;  // channel fold
    const unsigned total = num_vectors * TILES * FOLDS;
vvau_loop:
    for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<PE * SIMD * IN_BITS> x = in.read();
        const unsigned slot = DW_ORDER ? 0 : fold;
        ap_uint<PE * OUT_BITS> oword = 0;
#ifdef HWGEN_CSIM_NATIVE
        native::u64 xl[(PE * SIMD * IN_BITS + 63) / 64], wtmp[(SIMD * W_BITS + 63) / 64], ol[(PE * OUT_BITS + 63) / 64] = {0};
        native::to_limbs<PE * SIMD * IN_BITS>(x, xl);
#endif
    pe_loop:
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            // the SIMD products summed apart, then one add to the carried sum: the loop-carried path is one adder
            acc_t dot = 0;
#ifdef HWGEN_CSIM_NATIVE  // the simd_loop below on 64-bit integers
            const native::u64* w = native::limbs_of(weights[p][fold * TILES + tile], wtmp);
            for (unsigned s = 0; s < SIMD; s++)
                dot += native::value<IN_BITS, IN_SIGNED, IN_BIPOLAR>(native::field<IN_BITS>(xl, s * PE + p)) *
                     native::value<W_BITS, W_SIGNED, W_BIPOLAR>(native::field<W_BITS>(w, s));
#else
            const ap_uint<SIMD * W_BITS> w = rom_word<SIMD * W_BITS>(weights[p][fold * TILES + tile]);
        simd_loop:
            for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                const typename InE::type xv = InE::decode(slice<IN_BITS>(x, s * PE + p));
                const typename WE::type wv = WE::decode(slice<W_BITS>(w, s));
                dot += xv * wv;
            }
#endif
            const acc_t a = ((tile == 0) ? acc_t(0) : acc_t(acc[p][slot])) + dot;
            acc[p][slot] = a;
            if (tile == TILES - 1) {
#ifdef HWGEN_CSIM_NATIVE
                const native::i64 o = HAS_THR ? OUT_BASE + (native::i64)native::count_ge(a, &thresholds[p][fold][0], T)
                                              : (native::i64)a;
                native::put<OUT_BITS>(ol, p, native::out_bits<OUT_BITS>(o));
#else
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
#endif
            }
        }
#ifdef HWGEN_CSIM_NATIVE
        oword = native::from_limbs<PE * OUT_BITS>(ol);
#endif
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
