// hwgen: label select / top-k (static header).
//
// Semantics (hwgen.layers.kernels.label_select): the indices of the K largest of C values, largest first; equal
// values: lower index first. Reads C/PE words per vector (channel f*PE+p at element p), writes K words per
// vector, each one index of OUT_BITS bits. The top-K list is kept sorted in registers and each arriving value is
// inserted in parallel (a value displaces an entry only if strictly larger, so earlier indices win ties).
#ifndef HWGEN_LABEL_SELECT_HPP
#define HWGEN_LABEL_SELECT_HPP

#include "hwgen_common.hpp"

namespace hwgen {

template <unsigned C, unsigned PE, unsigned K, unsigned IN_BITS, bool IN_SIGNED, bool IN_BIPOLAR, unsigned OUT_BITS>
void label_select(hwgen::stream<ap_uint<PE * IN_BITS> >& in, hwgen::stream<ap_uint<OUT_BITS> >& out,
                  const unsigned num_vectors) {
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(K >= 1 && K <= C, "need 1 <= K <= C");
    enum { FOLDS = C / PE, IDX_BITS = clog2<C>::value + 1 };
    typedef Elem<IN_BITS, IN_SIGNED, IN_BIPOLAR> InE;
    typedef typename InE::type val_t;

vec_loop:
    for (unsigned v = 0; v < num_vectors; v++) {
        val_t top_val[K];
        ap_uint<IDX_BITS> top_idx[K];
        bool top_ok[K];
#pragma HLS ARRAY_PARTITION variable=top_val complete dim=1
#pragma HLS ARRAY_PARTITION variable=top_idx complete dim=1
#pragma HLS ARRAY_PARTITION variable=top_ok complete dim=1
        for (unsigned j = 0; j < K; j++) {
#pragma HLS UNROLL
            top_val[j] = 0;
            top_idx[j] = 0;
            top_ok[j] = false;
        }
    in_loop:
        for (unsigned f = 0; f < FOLDS; f++) {
#pragma HLS PIPELINE II=1
            const ap_uint<PE * IN_BITS> x = in.read();
            for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                const val_t nv = InE::decode(slice<IN_BITS>(x, p));
                const ap_uint<IDX_BITS> ni = f * PE + p;
                bool beats[K];
#pragma HLS ARRAY_PARTITION variable=beats complete dim=1
                for (unsigned j = 0; j < K; j++) {
#pragma HLS UNROLL
                    beats[j] = !top_ok[j] || nv > top_val[j];
                }
                for (unsigned j = K; j-- > 0;) {
#pragma HLS UNROLL
                    if (beats[j]) {
                        if (j > 0 && beats[j - 1]) {
                            top_val[j] = top_val[j - 1];
                            top_idx[j] = top_idx[j - 1];
                            top_ok[j] = top_ok[j - 1];
                        } else {
                            top_val[j] = nv;
                            top_idx[j] = ni;
                            top_ok[j] = true;
                        }
                    }
                }
            }
        }
    out_loop:
        for (unsigned j = 0; j < K; j++) {
#pragma HLS PIPELINE II=1
            out.write(ap_uint<OUT_BITS>(top_idx[j]));
        }
    }
}

}  // namespace hwgen

#endif
