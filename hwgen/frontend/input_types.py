"""What the model's input holds: a datatype declared by annotation or by `hwgen build --input-dtype`.

A model's graph input is float32 in ONNX. Two ways say that it really carries integers on a grid:
- a qonnx tensor datatype annotation on the graph input (`graph.quantization_annotation`, key `finn_datatype`),
  as FINN's examples write it (`ModelWrapper.set_tensor_datatype(input, DataType["BIPOLAR"])`);
- the user's `--input-dtype TYPE` (INTn, UINTn, BIPOLAR, BINARY, TERNARY, FIXED<W,I> / ap_fixed<W,I>,
  UFIXED<W,I> / ap_ufixed<W,I>), the precision hls4ml / QKeras users give their fixed-point input.

An InputGrid is that set of values: integer levels lo..hi (or -1/+1) times a power-of-two scale 2^-frac_bits.
Power-of-two scales keep every conversion between a float32 value and its level exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from hwgen.errors import InputDataError, UnsupportedModelError

ANNOTATION_KEY = "finn_datatype"
_INT = re.compile(r"^(U?)INT(\d+)$")
_FIXED = re.compile(r"^(U?)FIXED<\s*(\d+)\s*,\s*(-?\d+)\s*>$")
_AP = re.compile(r"^AP_(U?)(FIXED|INT)<\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?>$")
# annotation values that carry no grid: the input stays float
FLOAT_NAMES = {"FLOAT32", "FLOAT16", "BFLOAT16"}
MAX_BITS = 24  # a float32 input holds every integer level exactly only up to 24 bits


@dataclass(frozen=True)
class InputGrid:
    name: str  # canonical qonnx-style name: INT8, UINT8, BIPOLAR, TERNARY, FIXED<16,6>, UFIXED<8,2>
    lo: int  # integer levels lo..hi (BIPOLAR: -1 and +1 only)
    hi: int
    frac_bits: int = 0  # value = level * 2^-frac_bits
    bipolar: bool = False
    source: str = "option"  # "annotation" (finn_datatype on the graph input) or "option" (--input-dtype)

    @property
    def scale(self) -> float:
        return float(2.0 ** -self.frac_bits)

    @property
    def signed(self) -> bool:
        return self.lo < 0

    @property
    def bits(self) -> int:
        if self.bipolar:
            return 1
        span = max(self.hi, -self.lo - 1 if self.lo < 0 else 0)
        return max(1, int(span).bit_length()) + (1 if self.lo < 0 else 0)

    def levels(self) -> np.ndarray:
        """Every level (int64), ascending."""
        if self.bipolar:
            return np.array([-1, 1], dtype=np.int64)
        return np.arange(self.lo, self.hi + 1, dtype=np.int64)

    def values(self) -> np.ndarray:
        """Every value of the type as float32 (exact)."""
        return (self.levels().astype(np.float64) * self.scale).astype(np.float32)

    def describe(self) -> str:
        if self.bipolar:
            return "BIPOLAR (values -1, +1)"
        rng = f"levels {self.lo}..{self.hi}"
        if self.frac_bits:
            sign = "signed" if self.signed else "unsigned"
            return f"{self.name} ({self.bits}-bit {sign}, {rng} x 2^-{self.frac_bits})"
        return f"{self.name} (integers {self.lo}..{self.hi})"

    def quantization_note(self) -> str:
        """How the head maps an arbitrary float input onto this grid (--input-dtype)."""
        if self.bipolar:
            return "x >= 0 -> +1, x < 0 -> -1 (as BipolarQuant)"
        s = f"x * 2^{self.frac_bits}" if self.frac_bits else "x"
        return (f"level = round({s}) to nearest, ties to even, saturated to [{self.lo}, {self.hi}] "
                "(as QONNX Quant with rounding_mode ROUND)")

    # --- run time ---------------------------------------------------------------------------------------------
    def check(self, x: np.ndarray) -> None:
        """InputDataError unless every element of x is a value of this type."""
        x = np.asarray(x)
        if x.size == 0:
            return
        with np.errstate(all="ignore"):
            q = np.asarray(x, dtype=np.float64) * (2.0 ** self.frac_bits)
            bad = ~np.isfinite(q) | (q != np.round(q))
            if self.bipolar:
                bad |= (q != 1) & (q != -1)
            else:
                bad |= (q < self.lo) | (q > self.hi)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            how = ("the model's graph input is annotated finn_datatype=" + self.name if self.source == "annotation"
                   else f"the build declared --input-dtype {self.name}")
            raise InputDataError(
                f"input element {idx} is {float(x[idx])!r}, which is not a {self.describe()} value: {how}, and the "
                "first hardware layer was built for exactly those values. Give inputs of that type (or rebuild "
                "without the declaration)."
            )

    def random(self, rng, shape) -> np.ndarray:
        """Random values of the type (float32), the extremes included."""
        if self.bipolar:
            lv = rng.choice(np.array([-1, 1], dtype=np.int64), shape)
        else:
            lv = rng.integers(self.lo, self.hi + 1, shape, dtype=np.int64)
            flat = lv.reshape(-1)
            if flat.size >= 2:
                flat[0], flat[-1] = self.lo, self.hi
        return (lv.astype(np.float64) * self.scale).astype(np.float32)

    def to_json(self) -> dict:
        return {"name": self.name, "lo": self.lo, "hi": self.hi, "frac_bits": self.frac_bits,
                "bipolar": self.bipolar, "source": self.source}

    @classmethod
    def from_json(cls, d):
        return None if not d else cls(d["name"], int(d["lo"]), int(d["hi"]), int(d["frac_bits"]), bool(d["bipolar"]),
                                      d.get("source", "option"))


def parse(text: str, source: str = "option", where: str = "--input-dtype",
          max_bits: int = MAX_BITS) -> InputGrid | None:
    """A datatype name -> InputGrid; None for float types. UnsupportedModelError names `where` otherwise."""
    t = str(text).strip()
    u = t.upper().replace(" ", "")
    if u in FLOAT_NAMES:
        return None
    if u == "BIPOLAR":
        return InputGrid("BIPOLAR", -1, 1, 0, True, source)
    if u == "BINARY":
        return InputGrid("BINARY", 0, 1, 0, False, source)
    if u == "TERNARY":
        return InputGrid("TERNARY", -1, 1, 0, False, source)
    m = _INT.match(u)
    if m:
        bits, signed = int(m.group(2)), m.group(1) == ""
        return _int_grid(f"{'INT' if signed else 'UINT'}{bits}", bits, signed, 0, source, where, t, max_bits)
    m = _FIXED.match(u)
    if m:
        w, i, signed = int(m.group(2)), int(m.group(3)), m.group(1) == ""
        return _int_grid(f"{'' if signed else 'U'}FIXED<{w},{i}>", w, signed, w - i, source, where, t, max_bits)
    m = _AP.match(u)
    if m:
        signed, w = m.group(1) == "", int(m.group(3))
        if m.group(2) == "INT":
            return _int_grid(f"{'INT' if signed else 'UINT'}{w}", w, signed, 0, source, where, t, max_bits)
        i = int(m.group(4)) if m.group(4) is not None else w
        return _int_grid(f"{'' if signed else 'U'}FIXED<{w},{i}>", w, signed, w - i, source, where, t, max_bits)
    raise UnsupportedModelError(
        f"{where}: datatype {t!r} is not one hwgen knows. Use INTn or UINTn (e.g. INT8, UINT8), BIPOLAR, BINARY, "
        "TERNARY, or fixed point FIXED<W,I> (as hls4ml's ap_fixed<W,I>: W bits in all, I integer bits incl. sign)."
    )


def _int_grid(name, bits, signed, frac_bits, source, where, text, max_bits=MAX_BITS) -> InputGrid:
    if not 1 <= bits <= max_bits:
        raise UnsupportedModelError(
            f"{where}: datatype {text!r} has {bits} bits; hwgen supports 1 to {max_bits} bits for the model input "
            "(a float32 input holds larger integers inexactly)."
        )
    if signed and bits == 1:
        raise UnsupportedModelError(f"{where}: a 1-bit signed type is BIPOLAR; write BIPOLAR.")
    if not -8 <= frac_bits <= 32:
        raise UnsupportedModelError(f"{where}: datatype {text!r} has an unreasonable number of fraction bits.")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return InputGrid(name, lo, hi, frac_bits, False, source)


def read_annotation(model, input_name: str) -> str | None:
    """The `finn_datatype` qonnx annotation of tensor `input_name`, or None."""
    for ann in model.graph.quantization_annotation:
        if ann.tensor_name != input_name:
            continue
        for kv in ann.quant_parameter_tensor_names:
            if kv.key == ANNOTATION_KEY:
                return kv.value
    return None


def annotated_grid(model, input_name: str, path: str) -> InputGrid | None:
    text = read_annotation(model, input_name)
    if text is None:
        return None
    if text.upper().startswith("SCALEDINT"):
        return None  # a scaled integer of unknown scale says nothing exact about the values
    grid = parse(text, "annotation", f"{path}: input {input_name!r} annotation {ANNOTATION_KEY}={text!r}", 64)
    # wider than float32 holds exactly (INT32): true of the values, but no exact grid to build for
    return grid if grid is not None and grid.bits <= MAX_BITS else None


def declared_grid(graph) -> InputGrid | None:
    """The input type a built graph was made for (annotation checked by its head, or --input-dtype), or None."""
    head = getattr(graph, "head", None)
    if head is not None and getattr(head, "input_check", None) is not None:
        return head.input_check
    d = (getattr(graph, "meta", None) or {}).get("input") or {}
    if d.get("declared"):
        return parse(d["declared"], d.get("source") or "option")
    return None
