"""Boards: one YAML file per board in boards/ (part, family, processing system, clock, DMA width, resources)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from hwgen.errors import HwgenError

DEFAULT_BOARD = "pynq-z2"


class UnknownBoardError(HwgenError):
    pass


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    family: str
    ps: str
    clock_mhz: float
    dma_width: int
    axi_width: int
    platform: str | None
    resources: dict
    description: str = ""


def boards_dir() -> Path:
    """The board YAML files: hwgen/board_files in an installed wheel, boards/ in a source checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "board_files"
    return installed if installed.is_dir() else here.parent / "boards"


_CACHE: dict = {}


def all_boards() -> dict[str, Board]:
    """Every board file parsed (cached until a file is added, removed or changed: a build asks several times)."""
    files = sorted(boards_dir().glob("*.yaml"))
    key = tuple((str(f), f.stat().st_mtime_ns) for f in files)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _parse(files)
    return dict(_CACHE[key])


def _parse(files) -> dict[str, Board]:
    out = {}
    for f in files:
        d = yaml.safe_load(f.read_text())
        desc = f.read_text().splitlines()[0].lstrip("# ").strip()
        out[d["name"]] = Board(d["name"], d["part"], d["family"], d["ps"], float(d["clock_mhz"]),
                               int(d["dma_width"]), int(d["axi_width"]), d.get("platform"), dict(d["resources"]), desc)
    return out


def get_board(name: str | None) -> Board:
    boards = all_boards()
    name = DEFAULT_BOARD if name is None else name  # --board "" is a mistake, not a request for the default
    if name not in boards:
        raise UnknownBoardError(f"unknown board {name!r}; known boards: {', '.join(boards)}.")
    return boards[name]


# yosys synth_xilinx -family of each board family (here, below hwgen.layers and hwgen.sim, so the matrix core's
# pipeline depth can follow the board without importing the synthesis wrapper)
FAMILY = {"zynq7000": "xc7", "zynq_us+": "xcup", "alveo": "xcup"}


def family_of(board) -> str:
    """yosys synth_xilinx family of a board (hwgen.boards.Board or its family string)."""
    fam = getattr(board, "family", board)
    return FAMILY.get(str(fam), "xc7")
