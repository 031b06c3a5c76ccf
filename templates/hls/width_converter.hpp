// hwgen: element-aligned stream width converter (static header).
//
// Re-packs a stream of IN_E elements per word into OUT_E elements per word (BITS bits each), keeping element
// order: element i of the flat sequence sits at element i % N of word i / N on both sides. ELEMS elements per
// vector must be a multiple of IN_E and of OUT_E. Every iteration (one clock cycle at II=1) reads a word and / or
// writes one, so a vector takes max(in, out) words' cycles, as hwgen.layers.width_converter's cycles() models:
// - one size a multiple of the other (every converter the graph transform places): the wide word is the only
//   buffer; down-sizing reads it every R-th cycle and writes a slice every cycle, up-sizing reads a slice every
//   cycle and writes the gathered word every R-th;
// - otherwise (the per-block API allows, e.g., 2 -> 3 elements): a buffer of IN_E + OUT_E elements; a cycle writes
//   when it holds OUT_E and reads while the input lasts and the buffer has room after that write (one cycle more
//   per call, the first read).
// Words stay within AP_INT_MAX_W: the buffer is the wider word (a multiple) or IN_E + OUT_E elements (checked).
#ifndef HWGEN_WIDTH_CONVERTER_HPP
#define HWGEN_WIDTH_CONVERTER_HPP

#include "hwgen_common.hpp"

namespace hwgen {

// The wide word of a converter whose sizes are multiples: slices of NARROW bits leave at the bottom (pop_low, the
// word shifts down) or arrive at the top (push_high, the word shifts down first), so after WIDE / NARROW slices the
// first one sits at the bottom. In C simulation (hwgen_native.hpp) the same on 64-bit limbs, a slice of up to 64
// bits a field of them, with a slice counter for the shift.
template <unsigned WIDE, unsigned NARROW>
struct WideWord {
#if defined(HWGEN_CSIM_NATIVE)
    enum { L = (WIDE + 63) / 64, N = WIDE / NARROW };
    native::u64 v[L];
    unsigned k;  // slices popped since the load / pushed since the last full word
    WideWord() : k(0) {
        for (unsigned l = 0; l < L; l++) v[l] = 0;
    }
    void load(const ap_uint<WIDE>& x) {
        native::to_limbs<WIDE>(x, v);
        k = 0;
    }
    ap_uint<NARROW> pop_low() {
        if (NARROW > 64) return ap_uint<NARROW>(native::from_limbs<WIDE>(v) >> (k++ * NARROW));
        return ap_uint<NARROW>(native::field<NARROW>(v, k++));
    }
    void push_high(const ap_uint<NARROW>& x) {
        if (k == N) {
            for (unsigned l = 0; l < L; l++) v[l] = 0;
            k = 0;
        }
        if (NARROW > 64) {
            native::to_limbs<WIDE>(native::from_limbs<WIDE>(v) | (ap_uint<WIDE>(x) << (k * NARROW)), v);
        } else {
            native::put<NARROW>(v, k, x.to_uint64());
        }
        k++;
    }
    ap_uint<WIDE> word() const { return native::from_limbs<WIDE>(v); }
#else
    ap_uint<WIDE> w;
    WideWord() : w(0) {}
    void load(const ap_uint<WIDE>& x) { w = x; }
    ap_uint<NARROW> pop_low() {
        const ap_uint<NARROW> y = w.range(NARROW - 1, 0);
        w = w >> NARROW;
        return y;
    }
    void push_high(const ap_uint<NARROW>& x) { w = (w >> NARROW) | (ap_uint<WIDE>(x) << (WIDE - NARROW)); }
    ap_uint<WIDE> word() const { return w; }
#endif
};

template <unsigned IN_E, unsigned OUT_E, unsigned BITS, unsigned ELEMS>
void width_converter(hwgen::stream<ap_uint<IN_E * BITS> >& in, hwgen::stream<ap_uint<OUT_E * BITS> >& out,
                     const unsigned num_vectors) {
    static_assert(ELEMS % IN_E == 0 && ELEMS % OUT_E == 0, "ELEMS must be a multiple of IN_E and OUT_E");
    enum {
        IN_WORDS = ELEMS / IN_E,
        OUT_WORDS = ELEMS / OUT_E,
        DOWN = (IN_E >= OUT_E && IN_E % OUT_E == 0),
        UP = (OUT_E > IN_E && OUT_E % IN_E == 0),
        R = DOWN ? IN_E / OUT_E : (UP ? OUT_E / IN_E : 1),
        BUF_E = (DOWN || UP) ? (IN_E > OUT_E ? IN_E : OUT_E) : IN_E + OUT_E,
        WIDE = (IN_E > OUT_E ? IN_E : OUT_E) * BITS,  // the sides of a multiple (well-formed in every branch)
        NARROW = (IN_E > OUT_E ? OUT_E : IN_E) * BITS,
    };
    static_assert(BUF_E * BITS <= AP_INT_MAX_W, "the width converter's buffer exceeds AP_INT_MAX_W");
    if (DOWN) {
        WideWord<WIDE, NARROW> wide;
    wc_down_loop:
        for (unsigned i = 0, r = 0; i < num_vectors * OUT_WORDS; i++) {
#pragma HLS PIPELINE II=1
            if (r == 0) wide.load(in.read());
            out.write(wide.pop_low());
            r = (r == R - 1) ? 0 : r + 1;
        }
    } else if (UP) {
        WideWord<WIDE, NARROW> wide;
    wc_up_loop:
        for (unsigned i = 0, r = 0; i < num_vectors * IN_WORDS; i++) {
#pragma HLS PIPELINE II=1
            wide.push_high(in.read());
            if (r == R - 1) out.write(wide.word());
            r = (r == R - 1) ? 0 : r + 1;
        }
    } else {
        ap_uint<BUF_E * BITS> buf = 0;
        ap_uint<clog2<BUF_E + 1>::value + 1> held = 0;  // elements in buf
        const unsigned total_in = num_vectors * IN_WORDS, total_out = num_vectors * OUT_WORDS;
        unsigned n_in = 0, n_out = 0;
    wc_loop:
        while (n_out < total_out) {
#pragma HLS PIPELINE II=1
            unsigned h = held;
            if (h >= OUT_E) {
                out.write(buf.range(OUT_E * BITS - 1, 0));
                buf = buf >> (OUT_E * BITS);
                h -= OUT_E;
                n_out++;
            }
            if (n_in < total_in && h + IN_E <= BUF_E) {
                buf |= ap_uint<BUF_E * BITS>(in.read()) << (h * BITS);
                h += IN_E;
                n_in++;
            }
            held = h;
        }
    }
}

}  // namespace hwgen

#endif
