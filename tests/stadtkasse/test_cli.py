"""``erechnung receivables`` and ``erechnung payments unmatched|decide|import``: the JSON they print, the German
they print otherwise, and errors a clerk can act on."""
from __future__ import annotations

import json

import pytest

from erechnung.config import database_url
from erechnung.entrypoints.cli import main
from erechnung.model.receivables import MatchKind
from erechnung.stadtkasse.payments import import_files
from erechnung.state import make_engine

from .books import entry, matcher, reader

ITEM_KEYS = {"item_id", "document_id", "number", "kassenzeichen", "instalment", "amount", "paid", "open",
             "due_date", "state"}


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_receivables_and_clarification_through_the_command_line(site_with_documents, capsys, monkeypatch):
    site = site_with_documents
    config = str(site.config_path)
    assert main(["receivables", "--config", config, "--json"]) == 0
    items = _lines(capsys.readouterr().out)
    assert items and all(set(i) == ITEM_KEYS for i in items)
    first = next(i for i in items if i["number"] == "STA-2026-0101")
    assert (first["amount"], first["paid"], first["open"], first["state"]) == ("36.00", "0.00", "36.00", "open")
    assert first["due_date"] == "2026-11-16"

    engine = make_engine(database_url(site.config))
    try:
        import_files(engine, [("auszug.xml", b"")],
                     read=reader({"auszug.xml": (entry("E-9", "36.00", text="Urkunde Mustermann"),)}),
                     match=matcher({"E-9": (MatchKind.SUGGESTION, {first["item_id"]: "36.00"})}))
    finally:
        engine.dispose()
    assert main(["payments", "unmatched", "--config", config, "--json"]) == 0
    [waiting] = _lines(capsys.readouterr().out)
    assert (waiting["entry_key"], waiting["kind"], waiting["suggested"], waiting["amount"]) == (
        "E-9", "suggestion", [first["item_id"]], "36.00")
    assert main(["payments", "unmatched", "--config", config]) == 0
    assert "1 Umsatz/Umsätze zur Klärung" in capsys.readouterr().out

    monkeypatch.setenv("USER", "kasse.meier")
    assert main(["payments", "decide", "--config", config, "E-9", str(first["item_id"]), "--note", "passt"]) == 0
    assert "Gebucht von kasse.meier" in capsys.readouterr().out
    assert main(["receivables", "--config", config, "--json"]) == 0
    now = {i["item_id"]: i for i in _lines(capsys.readouterr().out)}
    assert (now[first["item_id"]]["paid"], now[first["item_id"]]["state"]) == ("36.00", "paid")

    assert main(["payments", "decide", "--config", config, "E-9", "999999"]) == 2
    assert "Offener Posten 999999 existiert nicht" in capsys.readouterr().err
    assert main(["receivables", "--config", config]) == 0
    assert "bezahlt" in capsys.readouterr().out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_import_of_a_file_that_is_not_there_says_so(make_site, db_url, tmp_path, capsys):
    site = make_site(tmp_path / "site", db_url, drop=False)
    assert main(["payments", "import", "--config", str(site.config_path), str(tmp_path / "fehlt.xml")]) == 2
    err = capsys.readouterr().err
    assert "fehlt.xml" in err and "nicht lesbar" in err
