"""The one packing convention of hwgen streams (DESIGN.md, "Packing").

Element i of a stream word occupies bits [i*w, (i+1)*w) of the word, LSB first. Signed elements are two's
complement; BIPOLAR {-1, +1} is stored as bit {0, 1}. On the outside (DMA, AXI-Stream TDATA) a word is padded to
whole bytes and stored little-endian.

Templates, testbenches, simulators and drivers call this module; none re-derives the convention.
"""

from __future__ import annotations

import numpy as np

from .dtypes import DType


def word_bits(dtype: DType, elems: int) -> int:
    """Bits of one word carrying `elems` elements."""
    return dtype.bits * elems


def padded_bytes(bits: int) -> int:
    """Bytes of a word of `bits` bits padded to whole bytes (the AXI-Stream TDATA width / 8)."""
    return (bits + 7) // 8


def encode(values, dtype: DType) -> np.ndarray:
    """Element values -> unsigned bit patterns (uint64) of dtype.bits bits. Refuses values the type cannot hold."""
    v = np.asarray(values)
    if not dtype.allowed(v):
        bad = v.ravel()[~_ok_mask(v.ravel(), dtype)][:4]
        raise ValueError(f"values {bad.tolist()} do not fit datatype {dtype.name}")
    v = v.astype(np.int64)
    if dtype.bipolar:
        return (v > 0).astype(np.uint64)
    mask = np.uint64((1 << dtype.bits) - 1) if dtype.bits < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    return v.astype(np.uint64) & mask


def decode(patterns, dtype: DType) -> np.ndarray:
    """Unsigned bit patterns -> element values (int64)."""
    p = np.asarray(patterns).astype(np.uint64)
    if dtype.bipolar:
        return np.where(p & np.uint64(1), 1, -1).astype(np.int64)
    mask = np.uint64((1 << dtype.bits) - 1) if dtype.bits < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    p = p & mask
    v = p.astype(np.int64)
    if dtype.signed and dtype.bits < 64:
        v = np.where(v >= (1 << (dtype.bits - 1)), v - (1 << dtype.bits), v)
    return v


def _ok_mask(v, dtype):
    if dtype.bipolar:
        return (v == -1) | (v == 1)
    return (v >= dtype.min) & (v <= dtype.max) & (np.mod(v, 1) == 0)


def pack_words(values, dtype: DType, elems_per_word: int) -> list[int]:
    """Pack a flat sequence of elements into Python ints, `elems_per_word` per word (last axis order).

    len(values) must be a multiple of elems_per_word. Returns one int per word (arbitrary width).
    """
    pat = encode(np.asarray(values).ravel(), dtype)
    if pat.size % elems_per_word:
        raise ValueError(f"{pat.size} elements do not fill whole words of {elems_per_word}")
    w = dtype.bits
    words = []
    for chunk in pat.reshape(-1, elems_per_word):
        acc = 0
        for i, p in enumerate(chunk.tolist()):
            acc |= int(p) << (i * w)
        words.append(acc)
    return words


def unpack_words(words, dtype: DType, elems_per_word: int) -> np.ndarray:
    """Inverse of pack_words: Python ints -> flat int64 array of elements."""
    w = dtype.bits
    mask = (1 << w) - 1
    pats = [(int(word) >> (i * w)) & mask for word in words for i in range(elems_per_word)]
    return decode(np.array(pats, dtype=np.uint64), dtype)


def pack_bytes(values, dtype: DType, elems_per_word: int) -> np.ndarray:
    """Pack elements into a uint8 array of shape (n_words, padded_bytes): little-endian, byte-padded words.

    This is the layout of a DMA buffer and of the Verilator harness' input files. Vectorized for long runs.
    """
    pat = encode(np.asarray(values).ravel(), dtype)
    if pat.size % elems_per_word:
        raise ValueError(f"{pat.size} elements do not fill whole words of {elems_per_word}")
    w = dtype.bits
    nbits = w * elems_per_word
    nbytes = padded_bytes(nbits)
    pat = pat.reshape(-1, elems_per_word)
    # Spread each element's bits into a bit matrix, then let numpy pack LSB-first.
    bits = ((pat[:, :, None] >> np.arange(w, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    bits = bits.reshape(pat.shape[0], nbits)
    if nbytes * 8 > nbits:
        bits = np.concatenate([bits, np.zeros((bits.shape[0], nbytes * 8 - nbits), np.uint8)], axis=1)
    return np.packbits(bits, axis=1, bitorder="little")


def unpack_bytes(buf, dtype: DType, elems_per_word: int) -> np.ndarray:
    """Inverse of pack_bytes: uint8 (n_words, padded_bytes) -> flat int64 array of elements."""
    buf = np.asarray(buf, dtype=np.uint8)
    w = dtype.bits
    nbits = w * elems_per_word
    nbytes = padded_bytes(nbits)
    buf = buf.reshape(-1, nbytes)
    bits = np.unpackbits(buf, axis=1, bitorder="little")[:, :nbits].astype(np.uint64)
    bits = bits.reshape(buf.shape[0], elems_per_word, w)
    pat = (bits << np.arange(w, dtype=np.uint64)).sum(axis=2, dtype=np.uint64)
    return decode(pat.ravel(), dtype)
