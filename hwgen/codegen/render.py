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


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render(template: str, **params) -> str:
    """Render `template` (path relative to templates/, e.g. "rtl/mvau.v.j2") with `params`."""
    return environment().get_template(template).render(**params)
