// hwgen: matrix-vector(-activation) unit with PE/SIMD folding (static header).
//
// Semantics (hwgen.layers.kernels.mvau): acc[r] = sum_c x[c] * W[r][c]; with thresholds
// out[r] = OUT_BASE + #{t : acc[r] >= T[r][t]}, without thresholds out[r] = acc[r] truncated to OUT_BITS.
// For a BIPOLAR output the caller passes OUT_BASE = 0 and the count (0/1) is the emitted bit.
//
// Streams: an input vector of MW elements arrives as MW/SIMD words (word j: elements j*SIMD .. j*SIMD+SIMD-1);
// the output is MH/PE words per vector (word f: rows f*PE .. f*PE+PE-1). Row r is computed by PE r % PE in
// fold r / PE. The input vector is buffered while fold 0 runs and reused by the other MH/PE - 1 folds.
//
// Memories: weights[p][f * TILES + t] holds W[f*PE+p][t*SIMD .. t*SIMD+SIMD-1] packed (element i at bits
// [i*W_BITS, ...)); thresholds[p][f][k] holds T[f*PE+p][k]. The caller partitions both on dimension 1 (PE)
// and thresholds on dimension 3.
//
// BINARY_XNOR: inputs and weights are BIPOLAR; the dot product of a SIMD slice is
// 2 * popcount(~(x ^ w)) - SIMD, accumulated as a popcount and corrected once per row.
#ifndef HWGEN_MVAU_HPP
#define HWGEN_MVAU_HPP

#include "hwgen_common.hpp"

namespace hwgen {

#ifdef HWGEN_CSIM_NATIVE
// C simulation: one cycle of the pe_loop of mvau() below on 64-bit integers (hwgen_native.hpp): the PE dot
// products of one SIMD slice, and on a row's last tile the threshold count (or the truncated accumulator).
template <unsigned MW, unsigned SIMD, unsigned IN_BITS, bool IN_SIGNED, bool IN_BIPOLAR, unsigned W_BITS,
          bool W_SIGNED, bool W_BIPOLAR, unsigned PE, unsigned OUT_BITS, unsigned T, bool BINARY_XNOR, bool HAS_THR,
          int OUT_BASE>
struct MvauNative {
    enum { XL = (SIMD * IN_BITS + 63) / 64, WL = (SIMD * W_BITS + 63) / 64, OL = (PE * OUT_BITS + 63) / 64 };
    native::i64 acc[PE];
    template <class WA, class TA>
    ap_uint<PE * OUT_BITS> step(const ap_uint<SIMD * IN_BITS>& x, WA weights, TA thresholds, unsigned widx,
                                unsigned fold, bool first, bool last) {
        if (BINARY_XNOR && native::has_popcnt()) return step_popcnt(x, weights, thresholds, widx, fold, first, last);
        return body<false>(x, weights, thresholds, widx, fold, first, last);
    }
    template <class WA, class TA>
    HWGEN_POPCNT_TARGET ap_uint<PE * OUT_BITS> step_popcnt(const ap_uint<SIMD * IN_BITS>& x, WA weights,
                                                           TA thresholds, unsigned widx, unsigned fold, bool first,
                                                           bool last) {
        return body<true>(x, weights, thresholds, widx, fold, first, last);
    }
    template <bool HW, class WA, class TA>
    inline __attribute__((always_inline)) ap_uint<PE * OUT_BITS> body(const ap_uint<SIMD * IN_BITS>& x, WA weights,
                                                                      TA thresholds, unsigned widx, unsigned fold,
                                                                      bool first, bool last) {
        using namespace native;
        u64 xl[XL], wtmp[WL], ol[OL];
        to_limbs<SIMD * IN_BITS>(x, xl);
        i64 xv[BINARY_XNOR ? 1 : SIMD];
        if (!BINARY_XNOR) {
#pragma GCC unroll 16
            for (unsigned s = 0; s < SIMD; s++) xv[s] = value<IN_BITS, IN_SIGNED, IN_BIPOLAR>(field<IN_BITS>(xl, s));
        }
        for (unsigned l = 0; l < OL; l++) ol[l] = 0;
        for (unsigned p = 0; p < PE; p++) {
            const u64* w = limbs_of(weights[p][widx], wtmp);
            i64 a = first ? 0 : acc[p];
            if (BINARY_XNOR) {  // popcount of XNOR over the SIMD bits
                for (unsigned l = 0; l < XL; l++) {
                    const unsigned bits = (l + 1) * 64 <= SIMD ? 64 : SIMD - l * 64;
                    const u64 m = bits == 64 ? ~0ull : ((1ull << bits) - 1);
                    a += popcount<HW>(~(xl[l] ^ w[l]) & m);
                }
            } else {
#pragma GCC unroll 16
                for (unsigned s = 0; s < SIMD; s++) a += xv[s] * value<W_BITS, W_SIGNED, W_BIPOLAR>(field<W_BITS>(w, s));
            }
            acc[p] = a;
            if (last) {
                const i64 dot = BINARY_XNOR ? 2 * a - (i64)MW : a;
                const i64 o = HAS_THR ? OUT_BASE + (i64)count_ge(dot, &thresholds[p][fold][0], T) : dot;
                put<OUT_BITS>(ol, p, out_bits<OUT_BITS>(o));
            }
        }
        return last ? from_limbs<PE * OUT_BITS>(ol) : ap_uint<PE * OUT_BITS>(0);
    }
};
#endif

template <unsigned MW, unsigned MH, unsigned PE, unsigned SIMD, unsigned T,
          unsigned IN_BITS, bool IN_SIGNED, bool IN_BIPOLAR,
          unsigned W_BITS, bool W_SIGNED, bool W_BIPOLAR,
          unsigned OUT_BITS, unsigned ACC_BITS, unsigned THR_BITS,
          bool BINARY_XNOR, bool HAS_THR, int OUT_BASE, typename WMEM, typename TMEM>
void mvau(hwgen::stream<ap_uint<SIMD * IN_BITS> >& in, hwgen::stream<ap_uint<PE * OUT_BITS> >& out,
          const WMEM weights[PE][(MH / PE) * (MW / SIMD)],  // ap_uint<SIMD * W_BITS> (C simulation: rom.j2)
          const TMEM thresholds[PE][MH / PE][(T > 0 ? T : 1)],  // ap_int<THR_BITS>
          const unsigned num_vectors) {
    static_assert(MW % SIMD == 0, "SIMD must divide MW");
    static_assert(MH % PE == 0, "PE must divide MH");
    static_assert(!BINARY_XNOR || (IN_BITS == 1 && W_BITS == 1), "XNOR mode needs 1-bit inputs and weights");
    static_assert(!HAS_THR || T > 0, "thresholds enabled but T == 0");
    enum { TILES = MW / SIMD, FOLDS = MH / PE, TOTAL_TILES = TILES * FOLDS };
    typedef Elem<IN_BITS, IN_SIGNED, IN_BIPOLAR> InE;
    typedef Elem<W_BITS, W_SIGNED, W_BIPOLAR> WE;
    typedef ap_int<ACC_BITS> acc_t;
    typedef ap_uint<clog2<T + 1>::value + 1> cnt_t;

    ap_uint<SIMD * IN_BITS> inbuf[TILES];
    acc_t acc[PE];
#pragma HLS ARRAY_PARTITION variable=acc complete dim=1
#ifdef HWGEN_CSIM_NATIVE
    MvauNative<MW, SIMD, IN_BITS, IN_SIGNED, IN_BIPOLAR, W_BITS, W_SIGNED, W_BIPOLAR, PE, OUT_BITS, T, BINARY_XNOR,
               HAS_THR, OUT_BASE> native;
    const bool use_native = ACC_BITS <= 62;
#endif

    unsigned tile = 0;  // tile within the current row fold
    unsigned fold = 0;  // output fold
    unsigned widx = 0;  // weight word index = fold * TILES + tile
    const unsigned total = num_vectors * TOTAL_TILES;
mvau_loop:
    for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II=1
        ap_uint<SIMD * IN_BITS> x;
        if (fold == 0) {
            x = in.read();
            inbuf[tile] = x;
        } else {
            x = inbuf[tile];
        }
        ap_uint<PE * OUT_BITS> oword = 0;
#ifdef HWGEN_CSIM_NATIVE
        if (use_native) {  // the pe_loop below on 64-bit integers (C simulation only)
            oword = native.step(x, weights, thresholds, widx, fold, tile == 0, tile == TILES - 1);
        } else
#endif
    pe_loop:
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<SIMD * W_BITS> w = rom_word<SIMD * W_BITS>(weights[p][widx]);
            // the SIMD slice's products (or XNOR popcount) summed apart, then one add to the carried sum
            acc_t dot = 0;
            if (BINARY_XNOR) {
                const ap_uint<SIMD * IN_BITS> m = ~(x ^ ap_uint<SIMD * IN_BITS>(w));
                ap_uint<clog2<SIMD + 1>::value + 1> pc = 0;
                for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                    pc += m[s];
                }
                dot = pc;
            } else {
            simd_loop:
                for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                    const typename InE::type xv = InE::decode(slice<IN_BITS>(x, s));
                    const typename WE::type wv = WE::decode(slice<W_BITS>(w, s));
                    dot += xv * wv;
                }
            }
            const acc_t a = ((tile == 0) ? acc_t(0) : acc[p]) + dot;
            acc[p] = a;
            if (tile == TILES - 1) {
                // Exact dot product of row fold * PE + p.
                acc_t dot = a;
                if (BINARY_XNOR) dot = acc_t(2 * a - acc_t(MW));
                ap_uint<OUT_BITS> o;
                if (HAS_THR) {
                    cnt_t cnt = 0;
                    for (unsigned k = 0; k < (T > 0 ? T : 1); k++) {
#pragma HLS UNROLL
                        if (dot >= thresholds[p][fold][k]) cnt++;
                    }
                    const ap_int<OUT_BITS + 34> v = ap_int<OUT_BITS + 34>(OUT_BASE) + cnt;
                    o = v.range(OUT_BITS - 1, 0);
                } else {
                    const ap_int<(OUT_BITS > ACC_BITS ? OUT_BITS : ACC_BITS)> v = dot;  // sign-extends
                    o = v.range(OUT_BITS - 1, 0);
                }
                oword.range((p + 1) * OUT_BITS - 1, p * OUT_BITS) = o;
            }
        }
        if (tile == TILES - 1) {
            out.write(oword);
            tile = 0;
            if (fold == FOLDS - 1) {
                fold = 0;
                widx = 0;
            } else {
                fold++;
                widx++;
            }
        } else {
            tile++;
            widx++;
        }
    }
}

}  // namespace hwgen

#endif
