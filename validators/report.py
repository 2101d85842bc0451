"""Reports for people and machines: per document the VARL XML and an HTML page, per run a summary (HTML + JSON).

The HTML page is written for a municipal auditor (German): the verdict and why, the rule bundle and scenario,
the invoice's data as the report stylesheet extracted it (seller, number, date), and every finding with its
rule id, its severity as the rule states it and as the scenario counts it (customLevel), its location and its
message. Every value from a document is escaped (the pages are built as trees with lxml, never by pasting
strings), so a hostile invoice cannot inject markup, and every page's Content-Security-Policy lets it load nothing
(``erechnung.html_safety``).

``write_reports(results, report_dir)`` writes everything and returns where.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from lxml.html import builder as E
from lxml.html import tostring as html_tostring

from erechnung.html_safety import csp_meta
from validators.engine import ENGINE_NAME, ValidationResult

LEVEL_DE = {"error": "Fehler", "warning": "Warnung", "information": "Information"}
VERDICT_DE = {"accept": "Annehmen", "reject": "Zurückweisen"}
REASON_DE = {
    "accepted": "Das Dokument erfüllt die Regeln des Prüfszenarios; es liegen keine Meldungen der Stufe Fehler vor.",
    "invalid": "Das Dokument verletzt Regeln, die das Prüfszenario als Fehler wertet.",
    "not-accepted": "Die Annahmebedingung des Prüfszenarios (acceptMatch) ist nicht erfüllt.",
    "no-scenario": ("Das Dokument passt zu keinem Prüfszenario des Regelwerks (kein XRechnung- bzw. "
                    "EN-16931-Dokument in einer hier geprüften Syntax und Version)."),
    "scenario-ambiguous": "Das Dokument passt zu mehreren Prüfszenarien und ist daher nicht eindeutig zuzuordnen.",
    "internal-error": ("Die Prüfung konnte nicht vollständig durchgeführt werden (interner Fehler). Das Dokument "
                       "gilt deshalb als zurückgewiesen; bitte den Betrieb informieren."),
    "xml-empty": "Die Datei ist leer.",
    "xml-too-large": "Die Datei überschreitet die zulässige Größe.",
    "xml-doctype-forbidden": "Die Datei enthält eine DOCTYPE-Deklaration; das ist in E-Rechnungen nicht zulässig.",
    "xml-not-wellformed": "Die Datei ist kein wohlgeformtes XML (beschädigt, abgeschnitten oder kein XML).",
    "xml-too-deep": "Die Datei ist zu tief verschachtelt.",
    "pdf-unreadable": ("Die Datei ist kein lesbares PDF (beschädigt, verschlüsselt oder gar kein PDF); eine "
                       "eingebettete Rechnung kann nicht entnommen werden."),
    "pdf-too-large": "Das PDF oder die darin eingebettete Rechnung überschreitet die zulässige Größe.",
    "pdf-no-embedded-invoice": ("Das PDF enthält keine eingebettete E-Rechnung (factur-x.xml, xrechnung.xml, "
                                "zugferd-invoice.xml); ein PDF allein ist keine E-Rechnung."),
    "pdf-active-content": ("Das PDF enthält aktive Inhalte (JavaScript, automatische Aktionen, Programmstarts "
                           "oder Formularskripte), die eine hybride Rechnung (PDF/A-3) nicht enthalten darf; es "
                           "wird nicht weitergegeben."),
    "pdf-profile-mismatch": ("Das PDF (XMP-Metadaten bzw. Name des Anhangs) gibt ein anderes Profil an als die "
                             "eingebettete Rechnung selbst (Spezifikationskennung BT-24)."),
}
SOURCE_DE = {"container": "Behälter", "pdf_sha256": "SHA-256 des PDF", "embedded": "Eingebettete Rechnungsdatei",
             "profile": "Profil laut Rechnung", "guideline": "Spezifikationskennung (BT-24)",
             "declared_profile": "Profil laut PDF (XMP ConformanceLevel)"}
CONTAINER_DE = {"pdf": "PDF (hybride Rechnung, Factur-X/ZUGFeRD)"}
DOCUMENT_DATA_DE = {"seller": "Rechnungssteller", "id": "Rechnungsnummer", "issueDate": "Rechnungsdatum"}
STATUS_DE = {"ran": "durchgeführt", "skipped": "übersprungen", "crashed": "abgebrochen (interner Fehler)"}

_CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 80em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; }
.verdict { padding: .6em 1em; font-size: 1.2em; font-weight: bold; border-radius: 4px; }
.accept { background: #e3f4e1; border: 1px solid #3c8a34; } .reject { background: #fbe3e1; border: 1px solid #b3261e; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.num { text-align: right; }
tr.error td.level { color: #b3261e; font-weight: bold; } tr.warning td.level { color: #8a5a00; }
.loc { font-family: monospace; font-size: .85em; word-break: break-all; }
footer { margin-top: 2em; font-size: .8em; color: #666; }
"""


def _page(title: str, *body: Any) -> bytes:
    doc = E.HTML(E.HEAD(E.META(charset="utf-8"), csp_meta(), E.TITLE(title), E.STYLE(_CSS)), E.BODY(*body))
    doc.set("lang", "de")
    return html_tostring(doc, doctype="<!DOCTYPE html>", encoding="utf-8", pretty_print=True)


def _footer() -> Any:
    return E.E.footer(f"Erstellt mit {ENGINE_NAME} am "
                      f"{datetime.now(timezone.utc).astimezone().strftime('%d.%m.%Y %H:%M')}. "
                      "Bewertungslogik wie KoSIT-Prüftool (scenarios.xml, customLevel, acceptMatch).")


def _location(m) -> str:
    parts = []
    if m.line:
        parts.append(f"Zeile {m.line}" + (f", Spalte {m.column}" if m.column else ""))
    if m.location:
        parts.append(m.location)
    return " · ".join(parts) or "–"


def document_html(result: ValidationResult) -> bytes:
    """The auditor's page for one document (German)."""
    data = dict(result.document)
    facts = [("Datei", result.name), ("Prüfzeitpunkt", result.timestamp or "–"),
             ("Regelwerk (Bundle)", result.bundle), ("Prüfszenario", result.scenario or "keines"),
             ("SHA-256", result.sha256 or "–")]
    facts += [(SOURCE_DE.get(k, k), CONTAINER_DE.get(v, v) if k == "container" else v)
              for k, v in result.source if v]
    facts += [(DOCUMENT_DATA_DE.get(k, k), v) for k, v in data.items()]
    counts = Counter(m.custom_level for m in result.messages)
    steps_rows = [E.TR(E.TD(s.id), E.TD(", ".join(r.name or r.location for r in s.resources) or "XML-Prüfung"),
                       E.TD(STATUS_DE.get(s.status, s.status)),
                       *[E.TD(str(sum(m.custom_level == lvl for m in s.messages)), E.CLASS("num"))
                         for lvl in ("error", "warning", "information")])
                  for s in result.steps]
    finding_rows = [E.TR(E.TD(m.id or m.step), E.TD(m.code), E.TD(LEVEL_DE.get(m.level, m.level)),
                         E.TD(LEVEL_DE.get(m.custom_level, m.custom_level), E.CLASS("level")),
                         E.TD(_location(m), E.CLASS("loc")), E.TD(m.text), E.CLASS(m.custom_level))
                    for m in result.messages]
    verdict = result.verdict
    body = [
        E.H1("Prüfbericht E-Rechnung"),
        E.P(f"Bewertung: {VERDICT_DE.get(verdict, verdict)} ({verdict})", E.CLASS(f"verdict {verdict}")),
        E.P(REASON_DE.get(result.reason, result.reason)),
        E.H2("Angaben zum Dokument"),
        E.TABLE(*[E.TR(E.TH(k), E.TD(v)) for k, v in facts]),
        E.H2("Prüfschritte"),
        E.TABLE(E.TR(E.TH("Schritt"), E.TH("Prüfgrundlage"), E.TH("Status"), E.TH("Fehler"), E.TH("Warnungen"),
                     E.TH("Informationen")), *steps_rows) if steps_rows else E.P("Keine Prüfschritte."),
        E.H2(f"Meldungen ({counts['error']} Fehler, {counts['warning']} Warnungen, "
             f"{counts['information']} Informationen nach Anpassung durch das Prüfszenario)"),
        E.TABLE(E.TR(E.TH("Nr."), E.TH("Regel"), E.TH("Grad laut Regel"), E.TH("Grad im Szenario"),
                     E.TH("Fundstelle"), E.TH("Meldung")), *finding_rows) if finding_rows else E.P("Keine Meldungen."),
        _footer(),
    ]
    return _page(f"Prüfbericht {result.name}", *body)


# --------------------------------------------------------------------------------------------------------------
# run summary
# --------------------------------------------------------------------------------------------------------------

def summarize(results: Iterable[ValidationResult], files: dict[str, dict[str, str]] | None = None,
              top: int = 20) -> dict[str, Any]:
    """Counts for a run: accept/reject, per reason, per scenario and bundle, the most frequent error rules."""
    results = list(results)
    by_scenario: dict[str, Counter] = defaultdict(Counter)
    by_bundle: dict[str, Counter] = defaultdict(Counter)
    rules: Counter = Counter()
    rule_docs: dict[str, set[str]] = defaultdict(set)
    rule_text: dict[str, str] = {}
    for r in results:
        by_scenario[r.scenario or "(kein Szenario)"][r.verdict] += 1
        by_bundle[r.bundle][r.verdict] += 1
        for m in r.errors:
            rules[m.code] += 1
            rule_docs[m.code].add(r.name)
            rule_text.setdefault(m.code, m.text)
    verdicts = Counter(r.verdict for r in results)
    return {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": ENGINE_NAME,
        "documents": len(results),
        "accept": verdicts["accept"],
        "reject": verdicts["reject"],
        "by_reason": dict(Counter(r.reason for r in results).most_common()),
        "by_scenario": {k: {"accept": v["accept"], "reject": v["reject"]} for k, v in sorted(by_scenario.items())},
        "by_bundle": {k: {"accept": v["accept"], "reject": v["reject"]} for k, v in sorted(by_bundle.items())},
        "top_rules": [{"rule": code, "count": n, "documents": len(rule_docs[code]), "example": rule_text[code]}
                      for code, n in rules.most_common(top)],
        "results": [{"name": r.name, "verdict": r.verdict, "reason": r.reason, "scenario": r.scenario,
                     "bundle": r.bundle, "errors": len(r.errors), "warnings": len(r.warnings),
                     **({"reports": files[r.name]} if files and r.name in files else {})} for r in results],
    }


def summary_html(summary: dict[str, Any]) -> bytes:
    """The run summary as a German HTML page, linking each document's report when it was written."""
    def table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
        return E.TABLE(E.TR(*[E.TH(h) for h in head]), *[E.TR(*[E.TD(c) if not isinstance(c, (int, float)) else
                                                                 E.TD(str(c), E.CLASS("num")) for c in row])
                                                         for row in rows])

    doc_rows = []
    for r in summary["results"]:
        name_cell: Any = r["name"]
        html_file = (r.get("reports") or {}).get("html")
        if html_file:
            name_cell = E.A(r["name"], href=html_file)
        doc_rows.append(E.TR(E.TD(name_cell), E.TD(VERDICT_DE.get(r["verdict"], r["verdict"]),
                                                      E.CLASS(f"level {r['verdict']}")),
                             E.TD(r["reason"]), E.TD(r["scenario"] or "–"), E.TD(str(r["errors"]), E.CLASS("num")),
                             E.TD(str(r["warnings"]), E.CLASS("num"))))
    body = [
        E.H1("Prüflauf: Zusammenfassung"),
        E.P(f"{summary['documents']} Dokumente geprüft: {summary['accept']} angenommen, "
            f"{summary['reject']} zurückgewiesen.", E.CLASS("verdict " + ("reject" if summary["reject"] else "accept"))),
        E.H2("Nach Grund"),
        table(["Grund", "Dokumente"], [(REASON_DE.get(k, k), v) for k, v in summary["by_reason"].items()]),
        E.H2("Nach Prüfszenario"),
        table(["Prüfszenario", "angenommen", "zurückgewiesen"],
              [(k, v["accept"], v["reject"]) for k, v in summary["by_scenario"].items()]),
        E.H2("Nach Regelwerk"),
        table(["Bundle", "angenommen", "zurückgewiesen"],
              [(k, v["accept"], v["reject"]) for k, v in summary["by_bundle"].items()]),
        E.H2("Häufigste Fehlerregeln"),
        table(["Regel", "Meldungen", "Dokumente", "Beispieltext"],
              [(t["rule"], t["count"], t["documents"], t["example"]) for t in summary["top_rules"]])
        if summary["top_rules"] else E.P("Keine Fehler."),
        E.H2("Dokumente"),
        E.TABLE(E.TR(E.TH("Datei"), E.TH("Bewertung"), E.TH("Grund"), E.TH("Prüfszenario"), E.TH("Fehler"),
                     E.TH("Warnungen")), *doc_rows),
        _footer(),
    ]
    return _page("Prüflauf: Zusammenfassung", *body)


# --------------------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportFiles:
    """Where ``write_reports`` put things."""

    directory: Path
    summary_html: Path
    summary_json: Path
    documents: dict[str, dict[str, Path]] = field(default_factory=dict)  # result name -> {"xml": ..., "html": ...}


def report_stem(name: str) -> str:
    """A file name stem for a document's reports: its base name, made safe, plus a short hash of the full name
    so that equal base names from different folders do not overwrite each other."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem or "document").strip("._")[:80] or "document"
    return f"{base}-{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def write_document_report(result: ValidationResult, report_dir: Path) -> dict[str, Path]:
    """Write ``<stem>.report.xml`` (VARL) and ``<stem>.report.html`` for one document."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(result.name)
    xml_path, html_path = report_dir / f"{stem}.report.xml", report_dir / f"{stem}.report.html"
    xml_path.write_bytes(result.report_xml())
    html_path.write_bytes(document_html(result))
    return {"xml": xml_path, "html": html_path}


def write_reports(results: Iterable[ValidationResult], report_dir: Path | str) -> ReportFiles:
    """Write every document's XML and HTML report and the run summary (``summary.html``, ``summary.json``)."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    results = list(results)
    written = {r.name: write_document_report(r, report_dir) for r in results}
    relative = {name: {k: p.name for k, p in files.items()} for name, files in written.items()}
    summary = summarize(results, relative)
    summary_json = report_dir / "summary.json"
    summary_json.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    summary_page = report_dir / "summary.html"
    summary_page.write_bytes(summary_html(summary))
    return ReportFiles(report_dir, summary_page, summary_json, written)
