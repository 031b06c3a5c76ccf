"""Safe identifiers for generated code.

ONNX names are untrusted text. Generated C++ / Verilog / Tcl / file names use identifiers made here:
`[A-Za-z_][A-Za-z0-9_]*`, unique within a namer, length-capped. Original names appear only in reports (JSON-escaped)
and, through `comment_safe`, in comments.
"""

from __future__ import annotations

import re

MAX_LEN = 48
_BAD = re.compile(r"[^A-Za-z0-9_]")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def sanitize(text: str, max_len: int = MAX_LEN) -> str:
    s = _BAD.sub("_", str(text))
    s = re.sub(r"_+", "_", s).strip("_")
    if not s or not (s[0].isalpha() or s[0] == "_"):
        s = "n_" + s
    return s[:max_len].rstrip("_") or "n"


class Namer:
    """Hands out unique sanitized identifiers."""

    def __init__(self):
        self._used: set[str] = set()

    def __call__(self, text: str) -> str:
        base = sanitize(text)
        name, k = base, 1
        while name.lower() in self._used:
            name = f"{base[: MAX_LEN - 4]}_{k}"
            k += 1
        self._used.add(name.lower())
        return name


def comment_safe(text: str, max_len: int = 80) -> str:
    """Text safe inside //, /* */, # and Verilog comments: printable ASCII only, no comment terminators."""
    s = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in str(text))
    s = s.replace("*/", "*_/").replace("/*", "/_*").replace("\\", "/")
    return s[:max_len]
