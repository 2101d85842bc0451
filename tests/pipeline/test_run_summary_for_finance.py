"""What finance reads of a run, without Prefect: times on the Berlin clock with their zone (winter and summer,
whatever the machine's zone), German headers, the failed departments named, and console links only where the
configuration gives the console's address (else where the file lies, never a file:// link)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

from erechnung.config.console import ConsoleSection, console_link
from erechnung.model.clock import berlin_iso, berlin_text
from erechnung.pipeline.run import DepartmentSummary, RejectedDocument, RunSummary

WINTER = datetime(2026, 12, 6, 13, 5, 9, tzinfo=timezone.utc)
SUMMER = datetime(2026, 7, 1, 22, 30, tzinfo=timezone.utc)
REPORT = "file:///srv/zonen/standesamt/fehlerberichte/a.csv.fehlerbericht.csv"


def test_times_carry_their_zone_on_the_berlin_clock():
    assert berlin_text(WINTER) == "06.12.2026 14:05 MEZ"
    assert berlin_text(WINTER, seconds=True) == "06.12.2026 14:05:09 MEZ"
    assert berlin_text(SUMMER) == "02.07.2026 00:30 MESZ"  # the day changes too
    assert berlin_text(WINTER.replace(tzinfo=None)) == "06.12.2026 14:05 MEZ"  # naive: UTC, as the database keeps
    assert berlin_iso(SUMMER) == "2026-07-02T00:30:00+02:00"


def _summary(report: Path | None = None) -> RunSummary:
    deps = [DepartmentSummary("standesamt", "Standesamt", batches=1, received=13, documents=5, rendered=5,
                              quarantined=5, handed_over=5),
            DepartmentSummary("ordnungsamt", "Ordnungsamt", error="Ablage s3://b/o nicht erreichbar: keine "
                                                                   "Zugangsdaten gefunden. ...")]
    return RunSummary("run-1", WINTER, WINTER.replace(minute=6, second=30), 81.0, 2, deps,
                      rejected=[RejectedDocument(7, "standesamt", "STA-1", "BR-DE-15")],
                      error_reports=[("standesamt", REPORT)], report_batches={REPORT: 3}, report_html=report)


def test_markdown_with_the_console_links_its_pages():
    config = SimpleNamespace(console=ConsoleSection(base_url="https://konsole.musterstadt.example/"),
                             model_fields_set={"console"})
    md = _summary(Path("/srv/berichte/lauf.html")).markdown(lambda path: console_link(config, path))
    assert "06.12.2026 14:05:09 MEZ – 14:06:30 MEZ" in md and "UTC" not in md
    assert "**Fehlgeschlagen: Ordnungsamt**" in md
    assert "| Abteilung | Dateien | Duplikate | Datensätze | Belege | erzeugt | abgelehnt | Quarantäne | übergeben |" in md
    assert "[STA-1](https://konsole.musterstadt.example/dokumente/7)" in md
    assert "- Standesamt: [Fehlerbericht in der Konsole](https://konsole.musterstadt.example/dateien/3)" in md
    assert "[in der Konsole](https://konsole.musterstadt.example/laeufe)" in md
    assert "file://" not in md


def test_markdown_without_a_console_says_where_files_lie():
    unset = SimpleNamespace(console=ConsoleSection(), model_fields_set=set())  # no [console]: its defaults only
    md = _summary(Path("/srv/berichte/lauf.html")).markdown(lambda path: console_link(unset, path))
    assert "](" not in md and "file://" not in md
    assert "Der HTML-Bericht liegt auf dem Server unter `/srv/berichte/lauf.html`" in md
    assert "- Standesamt: liegt in der Ablage der Abteilung: `/srv/zonen/standesamt/fehlerberichte/" in md


def test_the_failed_departments_are_those_skipped_stopped_or_with_unreadable_files():
    s = _summary()
    s.departments.append(DepartmentSummary("steueramt", "Steueramt", unreadable=1))
    s.departments.append(DepartmentSummary("abfall", "Abfallwirtschaft", busy="anderer Lauf"))
    assert s.failed_departments() == ["Ordnungsamt", "Steueramt"]
    assert s.table_de()[0]["Abteilung"] == "Standesamt" and s.table_de()[-1]["Abteilung"] == "Gesamt"
