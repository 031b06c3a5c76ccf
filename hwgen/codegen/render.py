"""Jinja2 rendering of the templates shipped with hwgen (templates/hls, templates/rtl, templates/vivado).

StrictUndefined: a template that uses a parameter the layer did not provide fails loudly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2


def templates_dir() -> Path:
    """The templates: hwgen/templates in an installed wheel, templates/ in a source checkout."""
    pkg = Path(__file__).resolve().parents[1]
    installed = pkg / "templates"
    return installed if installed.is_dir() else pkg.parent / "templates"


@lru_cache(maxsize=16)
def environment(extra_dirs: tuple[str, ...] = ()) -> jinja2.Environment:
    """The shipped templates, searched after a layer kind's own template folders (`extra_dirs`): a kind defined
    outside hwgen brings its templates along without touching templates/."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in extra_dirs] + [str(templates_dir())]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render(template: str, extra_dirs=(), **params) -> str:
    """Render `template` (path relative to templates/ or to one of `extra_dirs`, e.g. "rtl/mvau.v.j2")."""
    return environment(tuple(str(d) for d in extra_dirs)).get_template(template).render(**params)
