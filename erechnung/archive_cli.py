"""``erechnung archive verify [--config FILE] [--json]``: every archived item read and hashed again, its metadata
and its retention checked against the configured policy (:meth:`erechnung.archive.Archive.audit`).

Without ``--json`` one line per finding and a total; with ``--json`` one JSON object per finding per line
(``sha256``, ``key``, ``problem``, ``detail``) and a last object ``{"totals": {...}}`` (items checked, findings by
problem). Exit 0 nothing found, 1 findings, 2 the configuration or the archive cannot be opened.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


def open_archive(config_path: Path):
    """The configuration's archive (location and retention policy)."""
    from erechnung.archive import Archive, RetentionPolicy
    from erechnung.config import load_config, location_url
    from erechnung.storage import open_storage

    config = load_config(config_path)
    return Archive(open_storage(location_url(config, config.archive.location)),
                   RetentionPolicy.configured(config.archive.retention_years))


def run_archive_verify(config_path: Path, *, as_json: bool = False, out=None) -> int:
    from rich.console import Console
    from rich.markup import escape

    from erechnung.errors import ErechnungError

    out = out or sys.stdout
    err = Console(stderr=True, highlight=False)
    try:
        archive = open_archive(config_path)
        findings = []
        for finding in archive.audit():
            findings.append(finding)
            if as_json:
                out.write(json.dumps(finding.to_json(), ensure_ascii=False) + "\n")
    except (ErechnungError, OSError, ValueError) as exc:
        err.print(f"[red]Fehler:[/red] das Archiv kann nicht geprüft werden: {escape(str(exc))}")
        return EXIT_USAGE
    totals = {"items": archive.audited, "findings": len(findings),
              "by_problem": dict(sorted(Counter(f.problem for f in findings).items()))}
    if as_json:
        out.write(json.dumps({"totals": totals}) + "\n")
    else:
        for f in findings:
            out.write(f"{f.problem}: {f.key}: {f.detail}\n")
        out.write(f"{'OK' if not findings else 'BEFUNDE'}: {totals['items']} Objekt(e) im Archiv "
                  f"{archive.storage.url} geprüft, {len(findings)} Befund(e)\n")
    out.flush()
    return EXIT_FOUND if findings else EXIT_OK
