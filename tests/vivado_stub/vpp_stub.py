"""Stub of Vitis `v++` (compile -c and link -l) for the tests: records the call, checks the arguments, writes
stub .xo / .xclbin files. Run as `bin/v++` (which execs this file).

-c: target, platform (one of boards/*.yaml's), -k KERNEL defined as `extern "C" void KERNEL(` in the source,
    source and -I directories exist, every quoted #include resolves (recursively). The .xo records the kernel
    name and its AXI4-Stream arguments.
-l: --config files exist and parse (v++ .cfg: `key=value` lines, `[section]`s, `#` comments), the platform
    (from a cfg or --platform) is a board's, the .xo inputs exist, `nk` names kernels of the inputs,
    `stream_connect=cu.port:cu.port` names declared compute units and stream ports of their kernels, and every
    stream port of every compute unit is connected exactly once.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

STUB = Path(__file__).resolve().parent
BOARDS = Path(os.environ.get("HWGEN_STUB_BOARDS", STUB.parents[1] / "boards"))
KNOWN_CFG = {
    "": {"platform", "target", "kernel_frequency", "save-temps", "temp_dir", "log_dir", "report_level"},
    "connectivity": {"nk", "stream_connect", "sp", "slr"},
    "clock": {"freqHz", "id", "defaultFreqHz", "defaultId"},
    "advanced": {"param", "prop"},
    "vivado": {"prop", "param", "impl.strategies"},
    "hls": {"clock", "pre_tcl", "post_tcl"},
}


class StubError(Exception):
    pass


def platforms() -> set[str]:
    out = set()
    for f in BOARDS.glob("*.yaml"):
        m = re.search(r"^platform:\s*([^\s#]+)", f.read_text(), re.M)
        if m and m.group(1) != "null":
            out.add(m.group(1))
    return out


def parse_cfg(text: str) -> list[tuple[str, str, str]]:
    """v++ config text -> [(section, key, value)] in order ('' = no section). Raises StubError on bad lines
    or unknown keys."""
    out, section = [], ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[([A-Za-z_.]+)\]", line)
        if m:
            section = m.group(1)
            if section not in KNOWN_CFG:
                raise StubError(f"line {n}: unknown section [{section}]")
            continue
        m = re.fullmatch(r"([A-Za-z_.\-]+)\s*=\s*(\S.*)", line)
        if not m:
            raise StubError(f"line {n}: not key=value: {raw!r}")
        key, value = m.group(1), m.group(2).strip()
        if key not in KNOWN_CFG[section]:
            raise StubError(f"line {n}: unknown key {key!r} in section [{section or 'top'}]")
        out.append((section, key, value))
    return out


def _log(argv):
    p = os.environ.get("HWGEN_STUB_LOG")
    if p:
        with open(p, "a") as f:
            f.write(json.dumps(["v++"] + argv) + "\n")


def _includes(src: Path, inc_dirs: list[Path], seen: set):
    if src in seen:
        return
    seen.add(src)
    for inc in re.findall(r'#include\s+"([^"]+)"', src.read_text()):
        for d in [src.parent] + inc_dirs:
            if (d / inc).is_file():
                _includes((d / inc).resolve(), inc_dirs, seen)
                break
        else:
            raise StubError(f"{src}: #include \"{inc}\" not found (searched {src.parent} and -I {inc_dirs})")


def _opts(argv):
    flags, pos, multi = {}, [], {"-I": [], "--config": []}
    i = 0
    takes = {"-t", "--target", "--platform", "-k", "--kernel", "-o", "--output", "-I", "--config", "--temp_dir",
             "--log_dir", "--jobs", "-j"}
    while i < len(argv):
        a = argv[i]
        if a in ("-c", "--compile", "-l", "--link", "-g", "--save-temps"):
            flags[a] = True
        elif a in takes:
            if i + 1 >= len(argv):
                raise StubError(f"option {a} needs a value")
            v = argv[i + 1]
            i += 1
            if a in multi:
                multi[a].append(v)
            else:
                flags[{"--target": "-t", "--kernel": "-k", "--output": "-o", "-j": "--jobs"}.get(a, a)] = v
        elif a.startswith("-"):
            raise StubError(f"unknown option {a}")
        else:
            pos.append(a)
        i += 1
    return flags, multi, pos


def compile_(flags, multi, pos):
    for k in ("-t", "--platform", "-k", "-o"):
        if k not in flags:
            raise StubError(f"v++ -c: missing {k}")
    if flags["-t"] not in ("hw", "hw_emu", "sw_emu"):
        raise StubError(f"v++ -c: bad target {flags['-t']}")
    if flags["--platform"] not in platforms():
        raise StubError(f"v++ -c: unknown platform {flags['--platform']}")
    inc = []
    for d in multi["-I"]:
        if not Path(d).is_dir():
            raise StubError(f"v++ -c: -I {d} is not a directory")
        inc.append(Path(d).resolve())
    if len(pos) != 1 or not Path(pos[0]).is_file():
        raise StubError(f"v++ -c: expected one existing source file, got {pos}")
    src = Path(pos[0])
    _includes(src.resolve(), inc, set())
    k = flags["-k"]
    text = src.read_text()
    m = re.search(r'extern\s+"C"\s+void\s+' + re.escape(k) + r"\s*\(([^)]*)\)", text)
    if not m:
        raise StubError(f"v++ -c: kernel {k} (extern \"C\" void {k}(...)) not found in {src}")
    streams = re.findall(r"hls::stream<.*?>\s*&\s*([A-Za-z_]\w*)", m.group(1))
    out = Path(flags["-o"])
    if out.suffix != ".xo":
        raise StubError("v++ -c: -o must name a .xo file")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"kernel": k, "streams": streams, "platform": flags["--platform"]}))


def link(flags, multi, pos):
    if "-t" not in flags or flags["-t"] not in ("hw", "hw_emu", "sw_emu"):
        raise StubError("v++ -l: missing or bad -t")
    entries = []
    for c in multi["--config"]:
        if not Path(c).is_file():
            raise StubError(f"v++ -l: config {c} does not exist")
        try:
            entries += parse_cfg(Path(c).read_text())
        except StubError as e:
            raise StubError(f"v++ -l: {c}: {e}") from None
    plats = [v for s, k, v in entries if s == "" and k == "platform"] + (
        [flags["--platform"]] if "--platform" in flags else [])
    if len(set(plats)) != 1 or plats[0] not in platforms():
        raise StubError(f"v++ -l: platform must be given once and be a board's platform, got {plats}")
    xos = {}
    for x in pos:
        if not Path(x).is_file() or not x.endswith(".xo"):
            raise StubError(f"v++ -l: input {x} is not an existing .xo")
        d = json.loads(Path(x).read_text())
        if d["platform"] != plats[0]:
            raise StubError(f"v++ -l: {x} was compiled for {d['platform']}")
        xos[d["kernel"]] = d
    cus = {}
    for s, k, v in entries:
        if s == "connectivity" and k == "nk":
            m = re.fullmatch(r"(\w+):(\d+):(\w+(?:\.\w+)*)", v)
            if not m or m.group(1) not in xos:
                raise StubError(f"v++ -l: nk={v} names no kernel of the inputs ({', '.join(xos)})")
            names = m.group(3).split(".")
            if len(names) != int(m.group(2)):
                raise StubError(f"v++ -l: nk={v}: {m.group(2)} compute units but {len(names)} names")
            for n in names:
                cus[n] = m.group(1)
    used = {}
    for s, k, v in entries:
        if s == "connectivity" and k == "stream_connect":
            m = re.fullmatch(r"(\w+)\.(\w+):(\w+)\.(\w+)(?::\d+)?", v)
            if not m:
                raise StubError(f"v++ -l: bad stream_connect={v}")
            for cu, port in ((m.group(1), m.group(2)), (m.group(3), m.group(4))):
                if cu not in cus:
                    raise StubError(f"v++ -l: stream_connect={v}: no compute unit {cu}")
                if port not in xos[cus[cu]]["streams"]:
                    raise StubError(f"v++ -l: stream_connect={v}: {cus[cu]} has no stream port {port}")
                if (cu, port) in used:
                    raise StubError(f"v++ -l: {cu}.{port} connected twice")
                used[(cu, port)] = v
        if s == "clock" and k == "freqHz":
            m = re.fullmatch(r"(\d+):(\w+)", v)
            if not m or m.group(2) not in cus:
                raise StubError(f"v++ -l: bad clock freqHz={v}")
    for cu, kern in cus.items():
        for port in xos[kern]["streams"]:
            if (cu, port) not in used:
                raise StubError(f"v++ -l: stream port {cu}.{port} is not connected")
    out = Path(flags.get("-o", "a.xclbin"))
    if out.suffix != ".xclbin":
        raise StubError("v++ -l: -o must name a .xclbin")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"platform": plats[0], "cus": cus}))


def main(argv) -> int:
    _log(argv)
    try:
        flags, multi, pos = _opts(argv)
        if flags.get("-c") or flags.get("--compile"):
            compile_(flags, multi, pos)
        elif flags.get("-l") or flags.get("--link"):
            link(flags, multi, pos)
        else:
            raise StubError("neither -c nor -l")
    except StubError as e:
        print(f"STUB ERROR: v++: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
