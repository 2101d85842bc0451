"""XRechnung's duty to name the buyer's electronic address (BT-49) is for recipients of XRechnung (issue 11): a
business without one is held back with the reason; a citizen without e-mail is not (see
tests/pipeline/test_citizen_without_email_gets_paper.py)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _mapped(config, profiles, text: str, register):
    from erechnung.intake import map_batch, read_batch

    sample = sorted((EXAMPLES / "batches" / "standesamt").iterdir())[0]
    dep = config.department("standesamt")
    batch = read_batch(text.encode("windows-1252"), sample.name, format=dep.format, encoding=dep.encoding,
                       delimiter=dep.delimiter)
    return map_batch(batch, dep, config, profiles["standesamt"], register, today=date(2026, 11, 6))


def _sample_text() -> str:
    sample = sorted((EXAMPLES / "batches" / "standesamt").iterdir())[0]
    return sample.read_bytes().decode("windows-1252")


def test_a_business_without_electronic_address_is_still_held_back(config, profiles):
    from erechnung.intake import import_recipients_csv

    register = import_recipients_csv(
        "Kundennummer;Art;Name;Straße;PLZ;Ort;Kanäle\r\nK-1;Unternehmen;Bau GmbH;Weg 1;12345;Stadt;print\r\n"
        .encode("utf-8"), "empfaenger.csv")
    assert not register.errors
    result = _mapped(config, profiles, _sample_text().replace(";K-10001;", ";K-1;"), register.register)
    (held,) = [q for q in result.quarantined if q.key == "STA-2026-0102"]
    assert any("BT-49" in e.problem for e in held.errors)


def test_a_citizen_without_email_becomes_a_draft_without_bt49(config, profiles, register):
    from erechnung.intake import build

    result = _mapped(config, profiles, _sample_text().replace(";j.groessmann@example.org;", ";;"), register)
    (draft,) = [d for d in result.drafts if d.key == "STA-2026-0101"]
    assert draft.recipient.email is None
    assert build(draft, config).buyer.electronic_address is None
