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
- a window word is read (one per cycle) when it has been written (strictly before this cycle) and the 2-word
  output queue was not full at the cycle's start (a sink that never stalls never fills it);
- when the reader has read the frame's last window and the writer has taken the frame's last word, both restart
  (one cycle).
The RTL decides each cycle from registers (the next cycle's flags are computed for each outcome of this one); the
memory read is registered and the word goes through the output queue, so a word leaves 2 cycles after it is read
(`cycles`), and the buffer is written a cycle after a word is taken (a read of that word in that cycle bypasses
the memory), which the rules above do not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hwgen.layers import conv_kernels as ck


ORDERS = ("window", "depthwise")


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
    # "window": per output pixel, kernel positions (ky, kx) outer, channel words inner (a conv's MVAU, a Pool);
    # "depthwise": per output pixel, channel words (SIMD channels each) outer, kernel positions inner (a VVAU with
    # PE = SIMD: hwgen.layers.vvau's depthwise order)
    order: str = "window"

    def __post_init__(self):
        if self.order not in ORDERS:
            raise ValueError(f"{self.name}: window order {self.order!r}; use one of {', '.join(ORDERS)}")
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
        """(N, H, W, C) -> (N, OH, OW, KH*KW*C) in the block's order (`order`)."""
        w = ck.sliding_window(x, self.kernel, self.stride, self.dilation)
        if self.order == "depthwise":  # (kernel position, fold, SIMD) -> (fold, kernel position, SIMD)
            k = self.kernel[0] * self.kernel[1]
            per_word = w.shape[-1] // (k * self.cf)  # SIMD channels (1 on word indices: read_order)
            w = w.reshape(*w.shape[:-1], k, self.cf, per_word).swapaxes(-3, -2).reshape(w.shape)
        return w

    # --- template ------------------------------------------------------------------------------------------------
    def template_context(self, mem_style: str = "auto", write_reg: bool | None = None) -> dict:
        """Everything swg.v.j2 renders from: constants only, no arithmetic left to the template. write_reg: the
        buffer is written from registers a cycle after the word is taken (default `window_cost.swg_write_reg`:
        deep buffers that may be LUT-RAM, where the write enable's decode is deep)."""
        from hwgen.layers import window_cost

        if write_reg is None:
            write_reg = window_cost.swg_write_reg(window_cost.map_line_buffer(self.buf_words, self.word_bits,
                                                                              mem_style))
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        (oh, ow), w, cf = self.ofm, self.ifm_w, self.cf
        # read offset (words from the window's first word) steps: next kx, next ky (after the last channel fold of
        # a kernel position in the window order, in the depthwise order from the same channel fold)
        dwo = self.order == "depthwise"
        step_kx = dw * cf - (0 if dwo else cf - 1)
        step_ky = dh * w * cf - (kw - 1) * dw * cf - (0 if dwo else cf - 1)
        # window base steps (words): next output column, next output row
        step_ox = sw * cf
        step_oy = (sh * w - (ow - 1) * sw) * cf
        wb = _bits_for(self.in_words + self.buf_words)
        gb = wb + 2  # the read side's two's complement differences (gap - step - 1 and the like)
        # the walk's three nested levels, innermost first, and the read index's step after the last value of each
        # (then after the last output column, the row step); the RTL keeps the read index as a difference from
        # the words written (gap) and as an address modulo buf_words, both stepped by these constants
        n123 = (kw, kh, cf) if dwo else (cf, kw, kh)
        off_k = (kh - 1) * dh * w * cf + (kw - 1) * dw * cf  # the last kernel position of channel word 0
        off_last = off_k + cf - 1  # the window's last word (from its first)
        steps = ((step_kx, step_ky, 1 - off_k) if dwo else (1, step_kx, step_ky)) + \
            (step_ox - off_last, step_oy - off_last)
        m, buf = 1 << gb, self.buf_words
        return dict(
            name=self.name, SIMD=self.simd, EB=self.elem_bits, WORD=self.word_bits,
            IN_TDW=_bytes_width(self.word_bits), OUT_TDW=_bytes_width(self.word_bits),
            CF=cf, KH=kh, KW=kw, OH=oh, OW=ow,
            BUF_WORDS=self.buf_words, AW=_bits_for(self.buf_words - 1), IN_WORDS=self.in_words, WB=wb,
            OUT_WORDS=self.out_words, TRIP=self._frame()[0], DEPTHWISE=dwo,
            RAM_STYLE="",  # synthesis attribute of the buffer ("": the tool decides)
            STEP_KX=step_kx, STEP_KY=step_ky, STEP_OX=step_ox, STEP_OY=step_oy,
            STEP_OX_MOD=step_ox % self.buf_words, STEP_OY_MOD=step_oy % self.buf_words,
            CFB=_bits_for(cf - 1), KXB=_bits_for(kw - 1), KYB=_bits_for(kh - 1), OXB=_bits_for(ow - 1),
            OYB=_bits_for(oh - 1), OFFB=_bits_for(self.buf_words),
            WRITE_REG=bool(write_reg), GB=gb, N1=n123[0], N2=n123[1], N3=n123[2], C1B=_bits_for(n123[0] - 1), C2B=_bits_for(n123[1] - 1),
            C3B=_bits_for(n123[2] - 1), READ_STEPS=steps,
            LVL0=next((i for i, n in enumerate(n123 + (ow,)) if n > 1), 4),  # the first step's level
            NS=[((-s) % m, (-s - 1) % m, (-s + 1) % m) for s in steps],
            RM=[s % buf for s in steps], RW=[(s % buf - buf) % (1 << (_bits_for(buf - 1) + 2)) for s in steps],
            info=f"{self.ifm_h}x{self.ifm_w}x{self.channels}, kernel {kh}x{kw}, stride {sh}x{sw}, "
                 f"dilation {dh}x{dw}, SIMD {self.simd}, {self.elem_bits}-bit elements, {self.order} order",
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
        last = self._frame()[1] + 3  # the read register and the output queue add two cycles; inclusive count one
        return (frames - 1) * self.frame_period() + last

    def frame_period(self) -> int:
        """Cycles per frame in steady state (the frame's busy cycles plus the one restart cycle)."""
        return self._frame()[0] + 1

    def _frame(self) -> tuple[int, int]:
        """(busy cycles of one frame, index of the cycle of its last read) with a source and a sink that never
        stall (`solve`)."""
        return _frame_of(self)

    def read_times(self) -> np.ndarray:
        """Cycle of every read of a frame with a source and a sink that never stall (`solve`, cached)."""
        return _free_run(self)[0]

    def solve(self, arrive: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cycle of every read and every write of one frame (cycle 0 = the frame's first cycle), from the RTL's
        rules as max-plus recurrences, solved by iterating to their least fixed point (vectorized;
        `_frame_stepped` is the cycle-by-cycle reference):
          read r:  t_r[r] = max(t_r[r-1] + 1, t_w[reads[r]] + 1)
          write i: t_w[i] = max(t_w[i-1] + 1, t_r[k(i) * win_len - 1] + 1, arrive[i]), k(i) = the first window
                   whose first word is more than i - BUF_WORDS (no constraint when k(i) = 0).
        arrive: the cycle input word i is offered (default: all at cycle 0, a source that never stalls)."""
        reads = self.read_order()
        n_r, n_w = len(reads), self.in_words
        win_len = self.kernel[0] * self.kernel[1] * self.cf
        k = np.searchsorted(reads[::win_len] + self.buf_words, np.arange(n_w), side="right")
        gate_read = k * win_len - 1  # the read that must be done before write i (-1: none)
        r_idx, w_idx = np.arange(n_r), np.arange(n_w)
        floor_w = np.zeros(n_w, dtype=np.int64) if arrive is None else np.asarray(arrive, dtype=np.int64)
        t_r = r_idx.copy()
        while True:
            gate = np.maximum(np.where(gate_read >= 0, t_r[np.maximum(gate_read, 0)] + 1, 0), floor_w)
            t_w = w_idx + np.maximum.accumulate(np.maximum(gate - w_idx, 0))
            new_r = r_idx + np.maximum.accumulate(np.maximum(t_w[reads] + 1 - r_idx, 0))
            if np.array_equal(new_r, t_r):
                break
            t_r = new_r
        return t_r, t_w

    def fifo_words(self, period: int | None = None, frames: int = 3) -> int:
        """Most words waiting in front of the block for a rate-matched producer (`_fifo_words`, cached)."""
        return _fifo_words_of(self, period, frames)

    def _fifo_words(self, period: int | None = None, frames: int = 3) -> int:
        """Most words waiting in front of the block when a producer offers the frame's words evenly at the
        block's own rate (one frame per `period` cycles, default `frame_period()`) and the sink never stalls:
        the input FIFO depth that never throttles a rate-matched producer. The block takes the first
        (span_h - 1) lines in a burst, then a word per window step, and nothing between its last write of a frame
        and the restart after the frame's last window (`frames` frames simulated back to back)."""
        period = self.frame_period() if period is None else int(period)
        n = self.in_words
        produced = (np.arange(frames * n) * period) // n  # cycle the producer offers word j
        start, worst = 0, 0
        for f in range(frames):
            arrive = produced[f * n:(f + 1) * n] - start
            t_r, t_w = self.solve(np.maximum(arrive, 0))
            taken = t_w + start  # absolute cycle word f*n + i is taken
            # words offered by then and not yet taken (word i itself included)
            waiting = np.searchsorted(produced, taken, side="right") - (np.arange(n) + f * n)
            worst = max(worst, int(waiting.max()))
            start += int(max(t_r[-1], t_w[-1])) + 2  # busy cycles plus the restart cycle
        return worst

    def _frame_stepped(self) -> tuple[int, int]:
        """`_frame`, stepping the RTL's rules one cycle at a time (slow; the reference the tests compare with)."""
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


# the models take a second on large frames and every build asks them several times: cached per spec (frozen)
@lru_cache(maxsize=64)
def _free_run(spec: SwgSpec) -> tuple[np.ndarray, np.ndarray]:
    t_r, t_w = spec.solve()
    t_r.flags.writeable = t_w.flags.writeable = False  # shared by every caller
    return t_r, t_w


@lru_cache(maxsize=512)
def _frame_of(spec: SwgSpec) -> tuple[int, int]:
    t_r, t_w = _free_run(spec)
    return int(max(t_r[-1], t_w[-1])) + 1, int(t_r[-1])


@lru_cache(maxsize=512)
def _fifo_words_of(spec: SwgSpec, period, frames) -> int:
    return spec._fifo_words(period, frames)


@dataclass(frozen=True)
class PadSpec:
    """The padding block (templates/rtl/pad.v.j2): an NHWC frame in, the frame with `pads` = (top, left, bottom,
    right) pixels of `pad_value` around it out, SIMD channels per word (`conv_kernels.pad`). A padded conv is this
    block followed by a sliding-window generator. One word per cycle; out_V_TREADY reaches in0_V_TREADY
    combinationally (as the width converter's), so a FIFO of depth >= 2 belongs in front of it in a chain."""

    name: str
    ifm_h: int
    ifm_w: int
    channels: int
    simd: int
    elem_bits: int
    signed: bool
    pads: tuple[int, int, int, int]
    pad_value: int = 0

    def __post_init__(self):
        if self.channels % self.simd:
            raise ValueError(f"{self.name}: SIMD {self.simd} does not divide {self.channels} channels")
        if min(self.pads) < 0:
            raise ValueError(f"{self.name}: negative pads {self.pads}")
        lo, hi = ck.int_range(self.elem_bits, self.signed)
        if not lo <= self.pad_value <= hi:
            raise ValueError(f"{self.name}: pad value {self.pad_value} is outside the element range [{lo}, {hi}]")

    @property
    def ofm(self) -> tuple[int, int]:
        t, l, b, r = self.pads
        return self.ifm_h + t + b, self.ifm_w + l + r

    @property
    def cf(self) -> int:
        return self.channels // self.simd

    @property
    def word_bits(self) -> int:
        return self.simd * self.elem_bits

    @property
    def in_words(self) -> int:
        return self.ifm_h * self.ifm_w * self.cf

    @property
    def out_words(self) -> int:
        return self.ofm[0] * self.ofm[1] * self.cf

    def execute(self, x: np.ndarray) -> np.ndarray:
        return ck.pad(x, self.pads, self.pad_value)

    def template_context(self) -> dict:
        (oh, ow), (t, l, _, _) = self.ofm, self.pads
        pattern = self.pad_value & ((1 << self.elem_bits) - 1)  # two's complement in elem_bits
        word = sum(pattern << (i * self.elem_bits) for i in range(self.simd))
        return dict(
            name=self.name, WORD=self.word_bits, IN_TDW=_bytes_width(self.word_bits),
            OUT_TDW=_bytes_width(self.word_bits), CF=self.cf, OH=oh, OW=ow,
            Y0=t, Y1=t + self.ifm_h, X0=l, X1=l + self.ifm_w, PAD_WORD_HEX=f"{word:x}", OUT_WORDS=self.out_words,
            CFB=_bits_for(self.cf - 1), OXB=_bits_for(ow), OYB=_bits_for(oh),
            info=f"{self.ifm_h}x{self.ifm_w}x{self.channels} padded (top, left, bottom, right) = {self.pads} "
                 f"with {self.pad_value}, SIMD {self.simd}, {self.elem_bits}-bit elements",
        )

    def cycles(self, frames: int = 1) -> int:
        """Cycles from the first output word to the last, inclusive, for `frames` frames at full rate."""
        return frames * self.out_words

    def interior(self) -> np.ndarray:
        """Output word positions (in frame order) that carry an input word."""
        (oh, ow), (t, l, _, _) = self.ofm, self.pads
        y, x = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
        inside = (y >= t) & (y < t + self.ifm_h) & (x >= l) & (x < l + self.ifm_w)
        return np.flatnonzero(np.repeat(inside.ravel(), self.cf))

    def fifo_words(self) -> int:
        """Most words waiting in front of the block when a producer offers a frame's words evenly over the
        block's frame (out_words cycles) and the sink never stalls: during the pad rows and columns the block
        takes nothing (the input FIFO depth that never throttles a rate-matched producer)."""
        n, p = self.in_words, self.out_words
        if n == 0:
            return 0
        produced = (np.arange(n) * p) // n
        taken = self.interior()
        return int((np.searchsorted(produced, taken, side="right") - np.arange(n)).max())
