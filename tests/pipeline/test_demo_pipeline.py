"""``make demo``'s pipeline part: the sample deliveries go all the way through, and running the demo again (the
same files dropped again) creates no duplicates."""
from __future__ import annotations

import io

from rich.console import Console

from .invariants import check_exactly_once, state


def test_demo_twice_creates_nothing_twice(tmp_path):
    from erechnung.entrypoints.demo.pipeline import main

    from .conftest import Site

    root = tmp_path / "out" / "pipeline"
    out = io.StringIO()
    assert main(root, console=Console(file=out, width=140), deliver=False) == 0
    site = Site(root, root / "config.toml", f"sqlite:///{root / 'erechnung.sqlite3'}", {})
    first = [(d.id, d.number, d.sha256, d.state) for d in state(site.db_url)[1]]
    assert len(first) == 22 and {s for *_, s in first} == {"handed_over"}  # 3 of them Gewerbesteuerbescheide
    assert "Fehlerbericht" in out.getvalue() or "error report" in out.getvalue()

    out = io.StringIO()
    assert main(root, console=Console(file=out, width=140), deliver=False) == 0
    assert [(d.id, d.number, d.sha256, d.state) for d in state(site.db_url)[1]] == first
    assert "nothing created twice" in out.getvalue()
    check_exactly_once(site)
    assert len(list((root / "reports").glob("lauf-*.html"))) == 2
