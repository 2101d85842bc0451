"""User story: a clerk of the Geschäftsstelle enters the returned Postzustellungsurkunde on the command line
(``erechnung service record``); ``erechnung status --document`` then shows the form of service, the proof and
the date of service with its paragraph, and ``erechnung audit verify`` still holds. A wrong entry is refused
with a German reason and changes nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from erechnung.entrypoints.cli import main

from .test_formal_service import BERLIN, World, notice_pdf, posted


def url_of(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_clerk_enters_the_returned_pzu_and_status_shows_the_date_of_service(engine, tmp_path, capsys):
    w = World(engine, tmp_path, "zustellung_pzu")
    (doc,) = w.notices_to_serve()
    w.deliver(datetime.now(timezone.utc))
    (d,) = w.deliveries(doc)
    _, posting_day = posted(d)
    scan = tmp_path / "pzu-scan.pdf"
    scan.write_bytes(notice_pdf("Zustellungsurkunde"))
    db = url_of(engine)

    code = main(["service", "record", "--document", str(doc), "--date", (posting_day - timedelta(days=1)).isoformat(),
                 "--form", "pzu", "--db", db])
    assert code == 1 and "vor dem Tag der Aufgabe zur Post" in capsys.readouterr().err
    assert w.date_of(d.id) is None

    code = main(["service", "record", "--document", str(doc), "--date", posting_day.isoformat(), "--form", "pzu",
                 "--art", "niederlegung", "--zusteller", "Zusteller Meier", "--scan", str(scan),
                 "--von", "Geschäftsstelle", "--db", db])
    out = capsys.readouterr().out
    assert code == 0 and f"zugestellt am {posting_day.isoformat()}" in out and "Niederlegung" in out
    assert w.date_of(d.id).computed_date == posting_day

    assert main(["status", "--document", str(doc), "--db", db]) == 0
    status = capsys.readouterr().out
    assert "Zustellung durch die Post mit Zustellungsurkunde (§ 3 VwZG)" in status
    assert "Nachweis: Postzustellungsurkunde (Niederlegung durch Zusteller Meier" in status
    assert f"Tag der Zustellung: {posting_day:%d.%m.%Y} (§ 3 Abs. 2 VwZG i. V. m. § 182 ZPO)" in status

    assert main(["audit", "verify", "--db", db]) == 0
    assert "OK" in capsys.readouterr().out


def test_a_bad_date_or_a_document_not_served_is_refused_on_the_command_line(engine, tmp_path, capsys):
    w = World(engine, tmp_path, "zustellung_pzu")
    (doc,) = w.notices_to_serve(title="Hundesteuerbescheid")
    w.deliver(datetime.now(timezone.utc))
    db = url_of(engine)
    assert main(["service", "record", "--document", str(doc), "--date", "25.11.2026", "--form", "pzu",
                 "--db", db]) == 2
    assert "kein Datum" in capsys.readouterr().err
    today = datetime.now(timezone.utc).astimezone(BERLIN).date()
    assert main(["service", "record", "--document", str(doc), "--date", today.isoformat(), "--form", "pzu",
                 "--db", db]) == 1
    assert "wird nicht förmlich zugestellt" in capsys.readouterr().err
