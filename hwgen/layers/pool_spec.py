"""The window reducer (pool) block: max pool, or a window sum followed by QONNX Trunc (Brevitas' TruncAvgPool),
over the sliding-window generator's stream. (Groundwork for issue 10: the next step registers it as a kind.)

In: a window stream in `conv_kernels.sliding_window` order (per output pixel: kernel positions, channels
innermost), SIMD channels per word. Out: one value per channel per output pixel, NHWC, SIMD channels per word.
A pool is `SwgSpec` (stride, padding, 1-D or 2-D) followed by this block. One input word per cycle; the output
register is written on the last kernel position, so out_V_TREADY reaches in0_V_TREADY combinationally there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.layers import conv_kernels as ck


def _bits_for(n: int) -> int:
    return max(1, int(n).bit_length())


def _bytes_width(bits: int) -> int:
    return 8 * ((bits + 7) // 8)


@dataclass(frozen=True)
class PoolSpec:
    name: str
    pixels: int            # output pixels per frame
    window: int            # kernel positions per window (KH * KW)
    channels: int
    simd: int
    in_bits: int
    in_signed: bool
    mode: str = "max"      # "max" | "trunc_avg"
    shift: int = 0         # trunc_avg: the Trunc's log2(output_scale / scale)
    out_bits: int = 0      # trunc_avg: the Trunc's output bit width
    out_signed: bool = False
    out_narrow: bool = False
    rounding_mode: str = "FLOOR"

    def __post_init__(self):
        if self.channels % self.simd:
            raise ValueError(f"{self.name}: SIMD {self.simd} does not divide {self.channels} channels")
        if self.mode not in ("max", "trunc_avg"):
            raise ValueError(f"{self.name}: pool mode {self.mode!r} (use max or trunc_avg)")
        if self.mode == "trunc_avg":
            if self.rounding_mode.upper() not in ck.ROUNDING_MODES:
                raise ValueError(f"{self.name}: rounding mode {self.rounding_mode!r}")
            if self.out_bits < 1 or self.shift < 0:
                raise ValueError(f"{self.name}: Trunc needs out_bits >= 1 and shift >= 0")

    @property
    def cf(self) -> int:
        return self.channels // self.simd

    @property
    def elem_out_bits(self) -> int:
        return self.in_bits if self.mode == "max" else self.out_bits

    @property
    def in_words(self) -> int:
        return self.pixels * self.window * self.cf

    @property
    def out_words(self) -> int:
        return self.pixels * self.cf

    def acc_bits(self) -> int:
        """Signed container of one lane: the element (one bit more when unsigned), plus the window sum's growth."""
        grow = (self.window - 1).bit_length() if self.mode == "trunc_avg" else 0
        ab = self.in_bits + (0 if self.in_signed else 1) + grow
        if self.mode == "trunc_avg":  # the clip bounds are compared in the container too
            lo, hi = ck.int_range(self.out_bits, self.out_signed, self.out_narrow)
            ab = max(ab, max(-lo, hi).bit_length() + 1)
        return ab

    def execute(self, windows: np.ndarray) -> np.ndarray:
        """(..., window * C) in window order -> (..., C)."""
        w = np.asarray(windows, dtype=np.int64)
        w = w.reshape(*w.shape[:-1], self.window, self.channels)
        if self.mode == "max":
            return w.max(axis=-2)
        return ck.trunc(w.sum(axis=-2), self.shift, self.out_bits, self.out_signed, self.out_narrow,
                        self.rounding_mode)

    def template_context(self) -> dict:
        lo, hi = ck.int_range(self.out_bits, self.out_signed, self.out_narrow) if self.mode == "trunc_avg" else (0, 0)
        ab = self.acc_bits()
        word_in, word_out = self.simd * self.in_bits, self.simd * self.elem_out_bits
        return dict(
            name=self.name, SIMD=self.simd, EB=self.in_bits, SIGNED=self.in_signed, OB=self.elem_out_bits,
            WORD_IN=word_in, WORD_OUT=word_out, IN_TDW=_bytes_width(word_in), OUT_TDW=_bytes_width(word_out),
            CF=self.cf, KK=self.window, IN_WORDS=self.in_words, OUT_WORDS=self.out_words,
            CFB=_bits_for(self.cf - 1), KB=_bits_for(self.window - 1), AB=ab,
            MODE=self.mode, LATENCY=self.latency(), SHIFT=self.shift,
            ROUNDING=self.rounding_mode.upper().replace("HALF_EVEN", "ROUND"),
            # clip bounds as AB-bit two's-complement literals (negative values written as AB-bit patterns)
            LO=lo, HI=hi, LO_PAT=lo & ((1 << ab) - 1), HI_PAT=hi & ((1 << ab) - 1), LO_NEG=lo < 0,
            info=f"{self.mode} over {self.window} positions, {self.channels} channels, SIMD {self.simd}, "
                 f"{'s' if self.in_signed else 'u'}{self.in_bits} in"
                 + (f", Trunc shift {self.shift} to {'s' if self.out_signed else 'u'}{self.out_bits} "
                    f"{self.rounding_mode}" if self.mode == "trunc_avg" else ""),
        )

    def latency(self) -> int:
        """Cycles of templates/rtl/pool.v.j2 from a window's last word taken to its result offered to the output
        queue: the input register, the partial result's update, and for an average the rounded quotient's
        register."""
        return 2 if self.mode == "max" else 3

    def cycles(self, frames: int = 1) -> int:
        """First input word to last output word, inclusive, at full rate: one input word per cycle, then the
        pipeline (latency) and the output queue."""
        return frames * self.in_words + self.latency() + 1
