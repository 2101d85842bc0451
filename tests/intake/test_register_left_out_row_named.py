"""A document naming a customer number whose register row was left out for its errors says so (issue 11): the
department learns which register row to fix, not only "unbekannte Kundennummer"."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from erechnung.intake import import_recipients_csv, map_batch, read_batch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_document_for_a_left_out_register_row_names_that_row(config, profiles, sample):
    text = (EXAMPLES / "recipients.csv").read_text(encoding="utf-8")
    assert "oezlem.yildiz@example.org" in text
    imported = import_recipients_csv(text.replace("oezlem.yildiz@example.org", "oezlem yildiz@example.org")
                                     .encode("utf-8"), "empfaenger.csv")
    assert [(e.row, e.column) for e in imported.errors] == [(4, "E-Mail")]
    assert imported.register.left_out_row("K-10003") == 4 and imported.register.left_out_row("K-99999") is None
    data, name = sample("standesamt")
    dep = config.department("standesamt")
    batch = read_batch(data, name, format=dep.format, encoding=dep.encoding, delimiter=dep.delimiter)
    result = map_batch(batch, dep, config, profiles["standesamt"], imported.register, today=date(2026, 11, 6))
    (held,) = [q for q in result.quarantined if q.key == "STA-2026-0108"]
    (error,) = held.errors
    assert error.value == "K-10003" and "Zeile 4 des Empfängerverzeichnisses" in error.problem
    (unknown,) = [q for q in result.quarantined if q.key == "STA-2026-0106"]
    assert unknown.errors[0].problem.startswith("unbekannte Kundennummer")
