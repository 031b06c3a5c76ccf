// hwgen: native-integer arithmetic for C simulation (static header; C simulation only: synthesis never sees it,
// hwgen_common.hpp includes it under #ifndef __SYNTHESIS__).
//
// Why: an ap_int operation in C simulation is a call into Xilinx's arbitrary-precision class (a range select, a
// sign extension, a multiply of templated widths: tens of ns each), and the matrix kinds' inner loops do PE x SIMD
// of them per cycle. The kernels therefore have, under HWGEN_CSIM_NATIVE, a second implementation of their
// per-cycle arithmetic only (never of their control: the loop, the counters, the stream reads and writes are the
// code synthesis sees) on 64-bit integers, which is exact because every accumulator width the kinds size fits
// 62 bits (a kernel falls back to its ap_int code otherwise). Compile with -DHWGEN_CSIM_AP_ARITH to simulate the
// ap_int arithmetic itself (tests/hls checks both give the same outputs).
//
// Constant memories in C simulation are the raw integer arrays of templates/hls/rom.j2 (unsigned long long or
// hwgen::native::limbs<L> words, long long thresholds), read here without converting them to ap_uint / ap_int.
#ifndef HWGEN_NATIVE_HPP
#define HWGEN_NATIVE_HPP
#ifndef __SYNTHESIS__

#include <stdint.h>

#ifndef HWGEN_CSIM_AP_ARITH
#define HWGEN_CSIM_NATIVE 1
#endif

namespace hwgen {
namespace native {

typedef unsigned long long u64;
typedef long long i64;

// A constant word wider than 64 bits, as 64-bit limbs, least significant first.
template <int L>
struct limbs {
    u64 v[L];
};

// ap_uint<N> <-> limbs (L = (N + 63) / 64 of them). Wider than 64 bits, Xilinx's C-simulation ap_uint keeps its
// value as 64-bit words (ssdm_int_sim::V, an ap_private with get_pVal(i)): read and written directly where the
// headers have them (hls4ml's copy and Vitis HLS's), else through range selects (a shift of the whole word each).
namespace detail {
template <class T>
inline auto limb(const T& x, int l, int) -> decltype((u64)x.V.get_pVal(l)) {
    return (u64)x.V.get_pVal(l);
}
template <class T>
inline u64 limb(const T& x, int l, long) {
    return x.range(l * 64 + 63 < T::width ? l * 64 + 63 : T::width - 1, l * 64).to_uint64();
}
template <class T>
inline auto set_limb(T& x, int l, u64 v, int) -> decltype((void)(x.V.get_pVal(l) = v)) {
    x.V.get_pVal(l) = v;
}
template <class T>
inline void set_limb(T& x, int l, u64 v, long) {
    x.range(l * 64 + 63 < T::width ? l * 64 + 63 : T::width - 1, l * 64) = v;
}
}  // namespace detail

template <int N>
inline void to_limbs(const ap_uint<N>& x, u64* out) {
    if (N <= 64) {
        out[0] = x.to_uint64();
    } else {
        for (int l = 0; l * 64 < N; l++) out[l] = detail::limb(x, l, 0);
        if (N % 64) out[(N - 1) / 64] &= (1ull << (N % 64)) - 1;
    }
}
template <int N>
inline ap_uint<N> from_limbs(const u64* v) {
    if (N <= 64) return ap_uint<N>(v[0]);
    ap_uint<N> x = 0;
    for (int l = 0; l * 64 < N; l++)
        detail::set_limb(x, l, (l + 1) * 64 <= N ? v[l] : (v[l] & ((1ull << (N % 64)) - 1)), 0);
    return x;
}

// A memory word as limbs: the raw words directly, an ap_uint (-DHWGEN_AP_ROM) converted into `tmp`.
inline const u64* limbs_of(const u64& w, u64*) { return &w; }
template <int L>
inline const u64* limbs_of(const limbs<L>& w, u64*) { return w.v; }
template <int N>
inline const u64* limbs_of(const ap_uint<N>& w, u64* tmp) {
    to_limbs<N>(w, tmp);
    return tmp;
}

// Set bits of a word. HW: the POPCNT instruction (the caller is compiled for it: HWGEN_POPCNT_TARGET), else the
// SWAR count (libgcc's __popcountdi2 otherwise, slower still: XNOR-popcount layers spend their time here).
template <bool HW>
inline __attribute__((always_inline)) unsigned popcount(u64 x) {
    if (HW) return (unsigned)__builtin_popcountll(x);
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

// x86-64 machines have had POPCNT since 2008, but not every one, and the library is compiled for the baseline:
// the XNOR kernels have a twin compiled for it, chosen at run time.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HWGEN_POPCNT_TARGET __attribute__((target("popcnt")))
inline bool has_popcnt() {
    static const bool yes = __builtin_cpu_supports("popcnt");
    return yes;
}
#else
#define HWGEN_POPCNT_TARGET
inline bool has_popcnt() { return false; }
#endif

// Bits [i*BITS, (i+1)*BITS) of a limb array (BITS <= 64).
template <unsigned BITS>
inline u64 field(const u64* v, unsigned i) {
    const unsigned b = i * BITS, l = b >> 6, o = b & 63;
    u64 r = v[l] >> o;
    if (o + BITS > 64) r |= v[l + 1] << (64 - o);
    return BITS >= 64 ? r : (r & ((1ull << (BITS % 64)) - 1));
}

// Value of an element's bit pattern (hwgen::Elem::decode).
template <unsigned BITS, bool SIGNED, bool BIPOLAR>
inline i64 value(u64 f) {
    if (BIPOLAR) return (f & 1) ? 1 : -1;
    if (SIGNED && BITS < 64) return (i64)(f << (64 - BITS)) >> (64 - BITS);
    return (i64)f;
}

// Set bits [i*BITS, (i+1)*BITS) of a zeroed limb array to the low BITS bits of f.
template <unsigned BITS>
inline void put(u64* v, unsigned i, u64 f) {
    if (BITS < 64) f &= (1ull << (BITS % 64)) - 1;
    const unsigned b = i * BITS, l = b >> 6, o = b & 63;
    v[l] |= f << o;
    if (o + BITS > 64) v[l + 1] |= f >> (64 - o);
}

// #{t : a >= thr[t]} over T thresholds (a row of the kinds' threshold memories, ascending: hwgen.codegen.hls
// checks it): a binary search over the raw long long thresholds; the ap_int ones (-DHWGEN_AP_ROM) one by one.
inline unsigned count_ge(i64 a, const i64* thr, unsigned T) {
    unsigned lo = 0, hi = T;  // thr[0 .. lo) <= a < thr[hi ..)
    while (lo < hi) {
        const unsigned mid = (lo + hi) / 2;
        if (thr[mid] <= a) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}
template <class TH>
inline unsigned count_ge(i64 a, const TH* thr, unsigned T) {
    unsigned n = 0;
    for (unsigned t = 0; t < T; t++) n += (a >= thr[t].to_int64());
    return n;
}

// The output element OUT_BASE + count, as its OUT_BITS-bit pattern (two's complement).
template <unsigned OUT_BITS>
inline u64 out_bits(i64 v) {
    return OUT_BITS >= 64 ? (u64)v : ((u64)v & ((1ull << (OUT_BITS % 64)) - 1));
}

}  // namespace native
}  // namespace hwgen

#endif  // __SYNTHESIS__
#endif
