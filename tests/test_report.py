"""`hwgen report` and OUT/report/index.html: readable table, chart with the bottleneck, escaped text."""

import html.parser
import json

from hwgen.build import build
from hwgen.cli import main
from tests.conftest import ROOT
from tests.malformed_models import HOSTILE_CASES


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_report_cli_and_html(tmp_path, capsys):
    out = tmp_path / "o"
    s = build(ROOT / "examples" / "digits" / "digits_mlp_w2a2.onnx", out, log=lambda *a: None)
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "MVAU_0" in text and "cycles/frame" in text and "index.html" in text
    assert main(["report", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"] == s["layers"]
    page = (out / "report" / "index.html").read_text()
    p = _Collect()
    p.feed(page)
    assert "svg" in p.tags and "rect" in p.tags and "table" in p.tags and "script" not in p.tags
    assert s["estimate"]["bottleneck"] in "".join(p.text)
    assert "#d9534f" in page  # the bottleneck bar is highlighted


def test_report_escapes_hostile_names(tmp_path):
    case = next(c for c in HOSTILE_CASES if c.id == "html_script")
    out = tmp_path / "o"
    build(case.make(tmp_path), out, log=lambda *a: None)
    page = (out / "report" / "index.html").read_text()
    p = _Collect()
    p.feed(page)
    assert "script" not in p.tags
    assert "<script" not in page.lower()
