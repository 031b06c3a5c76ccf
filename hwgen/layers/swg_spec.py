"""The sliding-window generator (SWG) block: its derived hardware quantities, its template context, its golden
semantics and its cycle model. (Groundwork for issue 10: the next step registers it as a layer kind.)

The block (templates/rtl/swg.v.j2) reads an NHWC frame, SIMD channels per word, and emits every output pixel's
window in the order of `conv_kernels.sliding_window` (output pixel, then kernel position (ky, kx), then channels),
SIMD channels per word. It holds a circular buffer of (span_h - 1) lines + span_w pixels, span = dilation *
(kernel - 1) + 1: the least that lets the last pixel of a window arrive while its first is still held. Padding
is not inside this block (a padding block or `conv_kernels.pad` does it).

Handshake rules (the cycle model mirrors them, cycle for cycle):
- a word is written when the writer has words left in the frame and, until the reader has finished the frame,
  it is fewer than BUF_WORDS words ahead of the current window's first word;
- a window word is read (one per cycle) when it has been written (strictly before this cycle) and the output
  register is free or being emptied;
- when the reader has read the frame's last window and the writer has taken the frame's last word, both restart
  (one cycle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.layers import conv_kernels as ck


def _bits_for(n: int) -> int:
    """Bits of an unsigned counter holding 0..n."""
    return max(1, int(n).bit_length())


def _bytes_width(bits: int) -> int:
    return 8 * ((bits + 7) // 8)


@dataclass(frozen=True)
class SwgSpec:
    name: str
    ifm_h: int
    ifm_w: int
    channels: int
    simd: int
    elem_bits: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)

    def __post_init__(self):
        if self.channels % self.simd:
            raise ValueError(f"{self.name}: SIMD {self.simd} does not divide {self.channels} channels")
        for what, v in (("kernel", self.kernel), ("stride", self.stride), ("dilation", self.dilation)):
            if len(v) != 2 or min(v) < 1:
                raise ValueError(f"{self.name}: {what} {v} must be two positive integers")
        self.ofm  # raises when the kernel span exceeds the image

    # --- shapes --------------------------------------------------------------------------------------------------
    @property
    def span(self) -> tuple[int, int]:
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))

    @property
    def ofm(self) -> tuple[int, int]:
        return ck.out_shape((self.ifm_h, self.ifm_w), self.kernel, self.stride, self.dilation)

    @property
    def cf(self) -> int:
        """Channel folds: words per pixel."""
        return self.channels // self.simd

    @property
    def buf_pixels(self) -> int:
        return (self.span[0] - 1) * self.ifm_w + self.span[1]

    @property
    def buf_words(self) -> int:
        return self.buf_pixels * self.cf

    @property
    def word_bits(self) -> int:
        return self.simd * self.elem_bits

    @property
    def in_words(self) -> int:
        return self.ifm_h * self.ifm_w * self.cf

    @property
    def out_words(self) -> int:
        oh, ow = self.ofm
        return oh * ow * self.kernel[0] * self.kernel[1] * self.cf

    # --- semantics -----------------------------------------------------------------------------------------------
    def execute(self, x: np.ndarray) -> np.ndarray:
        """(N, H, W, C) -> (N, OH, OW, KH*KW*C) in window order."""
        return ck.sliding_window(x, self.kernel, self.stride, self.dilation)

    # --- template ------------------------------------------------------------------------------------------------
    def template_context(self) -> dict:
        """Everything swg.v.j2 renders from: constants only, no arithmetic left to the template."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        (oh, ow), w, cf = self.ofm, self.ifm_w, self.cf
        # read offset (words from the window's first word) steps: next channel fold, next kx, next ky
        step_kx = dw * cf - (cf - 1)
        step_ky = dh * w * cf - (kw - 1) * dw * cf - (cf - 1)
        # window base steps (words): next output column, next output row
        step_ox = sw * cf
        step_oy = (sh * w - (ow - 1) * sw) * cf
        wb = _bits_for(self.in_words + self.buf_words)
        return dict(
            name=self.name, SIMD=self.simd, EB=self.elem_bits, WORD=self.word_bits,
            IN_TDW=_bytes_width(self.word_bits), OUT_TDW=_bytes_width(self.word_bits),
            CF=cf, KH=kh, KW=kw, OH=oh, OW=ow,
            BUF_WORDS=self.buf_words, AW=_bits_for(self.buf_words - 1), IN_WORDS=self.in_words, WB=wb,
            STEP_KX=step_kx, STEP_KY=step_ky, STEP_OX=step_ox, STEP_OY=step_oy,
            STEP_OX_MOD=step_ox % self.buf_words, STEP_OY_MOD=step_oy % self.buf_words,
            CFB=_bits_for(cf - 1), KXB=_bits_for(kw - 1), KYB=_bits_for(kh - 1), OXB=_bits_for(ow - 1),
            OYB=_bits_for(oh - 1), OFFB=_bits_for(self.buf_words),
            info=f"{self.ifm_h}x{self.ifm_w}x{self.channels}, kernel {kh}x{kw}, stride {sh}x{sw}, "
                 f"dilation {dh}x{dw}, SIMD {self.simd}, {self.elem_bits}-bit elements",
        )

    # --- cost ----------------------------------------------------------------------------------------------------
    def read_order(self) -> np.ndarray:
        """Absolute input word index of every output word, in output order."""
        idx = np.arange(self.in_words).reshape(1, self.ifm_h, self.ifm_w, self.cf)
        return self.execute(idx).reshape(-1)

    def cycles(self, frames: int = 1) -> int:
        """Cycles from the first input word taken to the last output word given, inclusive, for `frames`
        back-to-back frames with a source and a sink that never stall: a cycle-exact model of the RTL's rules
        (module docstring). Steady state: `frame_period()` cycles per frame."""
        last = self._frame()[1] + 2  # the output register adds one cycle; inclusive count adds one
        return (frames - 1) * self.frame_period() + last

    def frame_period(self) -> int:
        """Cycles per frame in steady state (the frame's busy cycles plus the one restart cycle)."""
        return self._frame()[0] + 1

    def _frame(self) -> tuple[int, int]:
        """(busy cycles of one frame, index of the cycle of its last read), stepping the RTL's rules."""
        reads = self.read_order()
        win_len = self.kernel[0] * self.kernel[1] * self.cf
        first_of_window = reads[::win_len]
        wr = rd = cyc = last_read = 0
        while rd < len(reads) or wr < self.in_words:
            reader_done = rd >= len(reads)
            can_read = not reader_done and reads[rd] < wr
            can_write = wr < self.in_words and (reader_done or wr < first_of_window[rd // win_len]
                                                 + self.buf_words)
            if can_read:
                last_read = cyc
            rd += can_read
            wr += can_write
            cyc += 1
        return cyc, last_read
