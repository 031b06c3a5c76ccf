// hwgen: streams that fork, join and repeat (static header): Duplicate, AddStreams, Upsample. Concat has a
// variable number of inputs and is generated whole by templates/hls/concat.hpp.j2.
//
// Every stream word carries PE channels of one pixel (channel f*PE+p at element p), C/PE words per pixel, pixels
// in row-major order (NHWC frames), per hwgen.packing.
#ifndef HWGEN_BRANCHING_HPP
#define HWGEN_BRANCHING_HPP

#include "hwgen_common.hpp"

namespace hwgen {

// AddStreams (hwgen.layers.conv_kernels.add_streams): acc = a * A_MUL + b * B_MUL per element, in ACC_BITS signed
// bits (the kind sizes it for the whole range); then, when T > 0, out = OUT_BASE + #{t : acc >= thr[c][t]},
// else out = acc (it fits the output type). thresholds[p][f][t] = T[f*PE+p][t], partitioned on dims 1 and 3.
template <unsigned C, unsigned PE, unsigned A_BITS, bool A_SIGNED, bool A_BIPOLAR, unsigned B_BITS, bool B_SIGNED,
          bool B_BIPOLAR, unsigned OUT_BITS, unsigned ACC_BITS, long long A_MUL, long long B_MUL, unsigned T,
          unsigned THR_BITS, int OUT_BASE, typename TMEM>
void add_streams(hwgen::stream<ap_uint<PE * A_BITS> >& in0, hwgen::stream<ap_uint<PE * B_BITS> >& in1,
                 hwgen::stream<ap_uint<PE * OUT_BITS> >& out,
                 const TMEM thresholds[PE][C / PE][T ? T : 1],  // ap_int<THR_BITS> (C simulation: rom.j2)
                 const unsigned pixels) {
    static_assert(C % PE == 0, "PE must divide C");
    enum { FOLDS = C / PE, NT = T ? T : 1 };
    typedef Elem<A_BITS, A_SIGNED, A_BIPOLAR> AE;
    typedef Elem<B_BITS, B_SIGNED, B_BIPOLAR> BE;
    typedef ap_uint<clog2<NT + 1>::value + 1> cnt_t;
    unsigned fold = 0;
add_loop:
    for (unsigned i = 0; i < pixels * FOLDS; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<PE * A_BITS> xa = in0.read();
        const ap_uint<PE * B_BITS> xb = in1.read();
        ap_uint<PE * OUT_BITS> oword = 0;
#ifdef HWGEN_CSIM_NATIVE  // the loop below on 64-bit integers (hwgen_native.hpp; ACC_BITS <= 62)
        if (ACC_BITS <= 62) {
            native::u64 al[(PE * A_BITS + 63) / 64], bl[(PE * B_BITS + 63) / 64], ol[(PE * OUT_BITS + 63) / 64] = {0};
            native::to_limbs<PE * A_BITS>(xa, al);
            native::to_limbs<PE * B_BITS>(xb, bl);
            for (unsigned p = 0; p < PE; p++) {
                const native::i64 acc = native::value<A_BITS, A_SIGNED, A_BIPOLAR>(native::field<A_BITS>(al, p)) * A_MUL +
                                        native::value<B_BITS, B_SIGNED, B_BIPOLAR>(native::field<B_BITS>(bl, p)) * B_MUL;
                const native::i64 o = T > 0 ? OUT_BASE + (native::i64)native::count_ge(acc, &thresholds[p][fold][0], NT)
                                            : acc;
                native::put<OUT_BITS>(ol, p, native::out_bits<OUT_BITS>(o));
            }
            oword = native::from_limbs<PE * OUT_BITS>(ol);
        } else
#endif
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_int<ACC_BITS> a = AE::decode(slice<A_BITS>(xa, p));
            const ap_int<ACC_BITS> b = BE::decode(slice<B_BITS>(xb, p));
            const ap_int<ACC_BITS> acc = a * ap_int<ACC_BITS>(A_MUL) + b * ap_int<ACC_BITS>(B_MUL);
            ap_int<OUT_BITS + 34> o = acc;
            if (T > 0) {
                cnt_t cnt = 0;
                for (unsigned k = 0; k < NT; k++) {
#pragma HLS UNROLL
                    if (acc >= thresholds[p][fold][k]) cnt++;
                }
                o = ap_int<OUT_BITS + 34>(OUT_BASE) + cnt;
            }
            oword.range((p + 1) * OUT_BITS - 1, p * OUT_BITS) = o.range(OUT_BITS - 1, 0);
        }
        out.write(oword);
        fold = (fold == FOLDS - 1) ? 0 : fold + 1;
    }
}

// Upsample (conv_kernels.upsample_nearest): every input line is kept in `line` (W * C/PE words) while its fh
// output lines are sent; each pixel is sent fw times. One output word per iteration: the first copy of a pixel's
// word in the first output line comes from the input (and is stored), every other copy from the line.
template <unsigned H, unsigned W, unsigned NF, unsigned FH, unsigned FW, unsigned WORD>
void upsample(hwgen::stream<ap_uint<WORD> >& in, hwgen::stream<ap_uint<WORD> >& out, const unsigned frames) {
    ap_uint<WORD> line[W * NF];
    unsigned f = 0, rx = 0, ix = 0, ry = 0;
upsample_loop:
    for (unsigned i = 0; i < frames * H * FH * W * FW * NF; i++) {
#pragma HLS PIPELINE II=1
        const unsigned addr = ix * NF + f;
        ap_uint<WORD> x;
        if (ry == 0 && rx == 0) {
            x = in.read();
            line[addr] = x;
        } else {
            x = line[addr];
        }
        out.write(x);
        if (++f == NF) {
            f = 0;
            if (++rx == FW) {
                rx = 0;
                if (++ix == W) {
                    ix = 0;
                    if (++ry == FH) ry = 0;
                }
            }
        }
    }
}

}  // namespace hwgen

#endif
