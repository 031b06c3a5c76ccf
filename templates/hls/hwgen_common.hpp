// hwgen: common definitions of the HLS blocks (static header, copied verbatim into every HLS project).
//
// Packing convention (hwgen/packing.py, DESIGN.md): element i of a stream word occupies bits
// [i*BITS, (i+1)*BITS), LSB first; signed elements are two's complement; BIPOLAR {-1,+1} is bit {0,1}.
#ifndef HWGEN_COMMON_HPP
#define HWGEN_COMMON_HPP

#ifndef AP_INT_MAX_W
#define AP_INT_MAX_W 4096
#endif

#include <ap_int.h>
#include <hls_stream.h>
#ifndef __SYNTHESIS__
#include "hwgen_csim.hpp"
#include "hwgen_native.hpp"
#endif

// AXI4-Stream word with TLAST. Vitis HLS ships ap_axi_sdata.h; the C-simulation header set (hls4ml's copy of
// the ap_types) does not, so a minimal compatible stand-in is defined for C simulation only.
#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define HWGEN_HAVE_AXI_SDATA 1
#endif
#endif
#ifndef HWGEN_HAVE_AXI_SDATA
template <int D, int U, int TI, int TD>
struct ap_axiu {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<1> last;
};
#endif

namespace hwgen {

// The stream type of every process: hls::stream in synthesis (Vitis HLS sees plain hls::stream and the
// `#pragma HLS STREAM depth` of the top), a FIFO of that depth in C simulation, whose blocking reads and writes
// let the processes run concurrently (hwgen_csim.hpp).
#ifdef __SYNTHESIS__
template <typename T>
using stream = hls::stream<T>;
#else
template <typename T>
using stream = csim::stream<T>;
#endif

// Compile-time helpers (C++11: no constexpr loops).
template <bool C, typename A, typename B> struct select_type { typedef A type; };
template <typename A, typename B> struct select_type<false, A, B> { typedef B type; };

// A counter or address of N bits: ap_uint<N> in synthesis; in C simulation (hwgen_native.hpp) an unsigned int
// when N <= 32 (exact: every one is sized for the largest value it takes and none relies on wrapping; the ap_int
// mode, HWGEN_CSIM_AP_ARITH, keeps ap_uint).
template <int N>
struct uint_of {
#ifdef HWGEN_CSIM_NATIVE
    typedef typename select_type<(N <= 32), unsigned, ap_uint<N> >::type type;
#else
    typedef ap_uint<N> type;
#endif
};
template <int N>
using uint_t = typename uint_of<N>::type;

template <unsigned N> struct clog2 { enum { value = 1 + clog2<(N + 1) / 2>::value }; };
template <> struct clog2<1> { enum { value = 0 }; };
template <> struct clog2<0> { enum { value = 0 }; };

// Element of a packed word: type and decoding of its bit pattern into a value.
//   Elem<BITS, SIGNED, BIPOLAR>::type    exact C++ type of the value (ap_int<BITS> / ap_uint<BITS> / ap_int<2>)
//   Elem<...>::decode(bits)              value of the pattern
template <unsigned BITS, bool SIGNED, bool BIPOLAR>
struct Elem {
    typedef typename select_type<SIGNED, ap_int<BITS>, ap_uint<BITS> >::type type;
    static type decode(ap_uint<BITS> b) {
#pragma HLS INLINE
        type v;
        v.range(BITS - 1, 0) = b;
        return v;
    }
};
template <unsigned BITS, bool SIGNED>
struct Elem<BITS, SIGNED, true> {
    typedef ap_int<2> type;
    static type decode(ap_uint<BITS> b) {
#pragma HLS INLINE
        return b[0] ? type(1) : type(-1);
    }
};

// Element i of a packed word.
template <int BITS, int N>
ap_uint<BITS> slice(const ap_uint<N>& w, unsigned i) {
#pragma HLS INLINE
    return w.range((i + 1) * BITS - 1, i * BITS);
}

// A constant-memory word as the kernels' ap_uint: the word itself in synthesis; in C simulation (with
// -DHWGEN_CSIM_AP_ARITH: the native kernels read the raw words directly) the raw words of rom.j2 converted.
template <int N>
ap_uint<N> rom_word(const ap_uint<N>& w) {
#pragma HLS INLINE
    return w;
}
#ifndef __SYNTHESIS__
template <int N>
ap_uint<N> rom_word(const unsigned long long& w) {
    return ap_uint<N>(w);
}
template <int N, int L>
ap_uint<N> rom_word(const native::limbs<L>& w) {
    return native::from_limbs<N>(w.v);
}
#endif

#ifndef __SYNTHESIS__
// C simulation only: a word of W bits (a multiple of 8) from / to W / 8 bytes, least significant first, 64 bits at
// a time (the testbench's packing, hwgen.packing.pack_bytes).
template <int W>
ap_uint<W> from_bytes(const unsigned char* b) {
    ap_uint<W> v = 0;
    for (int lo = 0; lo < W; lo += 64) {
        const int n = (W - lo < 64 ? W - lo : 64) / 8;
        unsigned long long limb = 0;
        for (int k = n - 1; k >= 0; k--) limb = (limb << 8) | b[lo / 8 + k];
        if (W <= 64) v = limb;
        else v.range(lo + 8 * n - 1, lo) = limb;
    }
    return v;
}
template <int W>
void to_bytes(const ap_uint<W>& v, unsigned char* b) {
    for (int lo = 0; lo < W; lo += 64) {
        const int n = (W - lo < 64 ? W - lo : 64) / 8;
        unsigned long long limb = (W <= 64) ? (unsigned long long)v.to_uint64()
                                            : (unsigned long long)v.range(lo + 8 * n - 1, lo).to_uint64();
        for (int k = 0; k < n; k++, limb >>= 8) b[lo / 8 + k] = (unsigned char)limb;
    }
}
#endif

// AXI4-Stream <-> internal stream: TDATA is the packed word zero-padded to PADW (whole bytes); TLAST marks the
// last word of a frame on the output.
template <unsigned W, unsigned PADW>
void axis_to_stream(stream<ap_axiu<PADW, 0, 0, 0> >& in, stream<ap_uint<W> >& out, const unsigned words) {
axis_in_loop:
    for (unsigned i = 0; i < words; i++) {
#pragma HLS PIPELINE II=1
        const ap_axiu<PADW, 0, 0, 0> x = in.read();
        out.write(x.data.range(W - 1, 0));
    }
}

template <unsigned W, unsigned PADW>
void stream_to_axis(stream<ap_uint<W> >& in, stream<ap_axiu<PADW, 0, 0, 0> >& out, const unsigned words) {
axis_out_loop:
    for (unsigned i = 0; i < words; i++) {
#pragma HLS PIPELINE II=1
        ap_axiu<PADW, 0, 0, 0> x;
        x.data = ap_uint<PADW>(in.read());
        x.keep = -1;
        x.strb = -1;
        x.last = (i == words - 1) ? 1 : 0;
        out.write(x);
    }
}

}  // namespace hwgen

#endif
