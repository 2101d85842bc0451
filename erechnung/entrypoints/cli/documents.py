"""``erechnung documents [--json] [--db URL]``: the documents in the state database; ``erechnung batches list`` the
files taken in (``--set-aside``: those set aside as poison, with the reason), ``erechnung batches release ID`` gives
one set aside back to the runs.

With ``--json`` one JSON object per line (``id``, ``department``, ``number``, ``kind``, ``format``, ``verdict``,
``sha256``, ``state``, ``recipient_ref``, ``issue_date``, ``batch_id``, ``created_at``); otherwise a table.
Exit codes: 0 listed (also when there are none), 2 no database there or it cannot be opened.
"""
from __future__ import annotations

import json
import sys
from typing import Optional

EXIT_OK, EXIT_USAGE = 0, 2


def _in_session(db: Optional[str], err, work):
    """``work(session)`` in a transaction on the state database ``db`` (migrated), or an exit code with the
    reason on ``err`` when there is no database or it cannot be read."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from ...state import database_url, make_engine, migrate, transaction

    url = database_url(db)
    try:
        u = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError: not a URL
        err.print(f"[red]Error:[/red] --db {url!r} is not a database URL: {exc}")
        return EXIT_USAGE
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        from pathlib import Path

        if not Path(u.database).is_file():
            err.print(f"[red]Error:[/red] no state database at {u.database} (nothing processed yet, or pass --db)")
            return EXIT_USAGE
    try:
        engine = make_engine(url)
        try:
            migrate(engine)
            with transaction(engine) as session:
                return work(session)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        err.print(f"[red]Error:[/red] cannot read the state database {u.render_as_string(hide_password=True)}: "
                  f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}")
        return EXIT_USAGE


def run_documents(db: Optional[str] = None, *, as_json: bool = False, department: Optional[str] = None,
                  state: Optional[str] = None, out=None) -> int:
    from rich.console import Console

    from ...state.repository import list_documents

    out = out or sys.stdout
    err = Console(stderr=True, highlight=False)
    rows = _in_session(db, err, lambda s: list_documents(s, department=department, state=state))
    if isinstance(rows, int):
        return rows
    return _listing(out, [r.to_json_dict() for r in rows] if as_json else None,
                    ("Id", "Bereich", "Nummer", "Art", "Format", "Prüfung", "Zustand", "SHA-256"),
                    [(str(r.id), r.department, r.number or "–", r.kind, r.format, r.verdict or "–", r.state,
                      (r.sha256 or "–")[:16]) for r in rows], f"{len(rows)} Dokument(e)")


def _listing(out, as_json: Optional[list], columns: tuple[str, ...], cells: list[tuple[str, ...]],
             footer: str) -> int:
    """A listing on ``out``: one JSON object per line (``as_json``), else a table of ``cells`` and a footer."""
    from rich.console import Console
    from rich.table import Table

    if as_json is not None:
        for r in as_json:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
        out.flush()
        return EXIT_OK
    console = Console(file=out, highlight=False, width=None if out.isatty() else 200)
    table = Table(show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in cells:
        table.add_row(*row)
    console.print(table)
    console.print(footer)
    return EXIT_OK


def _batch_json(b) -> dict:
    return {"id": b.id, "department": b.department, "file": b.source_key, "sha256": b.sha256, "status": b.status,
            "set_aside": b.poison_reason is not None, "reason": b.poison_reason, "attempts": b.attempts,
            "last_error": b.last_error, "records": b.record_count, "documents": b.document_count,
            "quarantined": b.quarantined_count,
            "received_at": b.received_at.isoformat() if b.received_at else None,
            "finished_at": b.finished_at.isoformat() if b.finished_at else None}


def run_batches(db: Optional[str] = None, *, as_json: bool = False, department: Optional[str] = None,
                set_aside: bool = False, out=None) -> int:
    """The files taken in, with what became of them; set-aside ones with their reason."""
    from rich.console import Console

    from ...state.repository import list_batches

    out = out or sys.stdout
    err = Console(stderr=True, highlight=False)
    rows = _in_session(db, err, lambda s: [_batch_json(b) for b in list_batches(s, department=department,
                                                                                  set_aside=set_aside)])
    if isinstance(rows, int):
        return rows
    states = {"done": "fertig", "claimed": "in Arbeit", "failed": "unlesbar"}
    return _listing(out, rows if as_json else None,
                    ("Id", "Bereich", "Datei", "Zustand", "Versuche", "Datensätze", "Dokumente", "Grund"),
                    [(str(r["id"]), r["department"], r["file"],
                      "zurückgestellt" if r["set_aside"] else states.get(r["status"], r["status"]),
                      str(r["attempts"]), str(r["records"]), str(r["documents"]), r["reason"] or "") for r in rows],
                    f"{len(rows)} Lieferung(en)" + (" zurückgestellt; freigeben: erechnung batches release ID"
                                                    if set_aside and rows else ""))


def run_release_batch(batch_id: int, db: Optional[str] = None, *, by: str, out=None) -> int:
    """Give a batch set aside as poison back to the runs (processed again by its department's next run)."""
    from rich.console import Console

    from ...state.repository import StateError, release_batch

    out = out or sys.stdout
    err = Console(stderr=True, highlight=False)

    def release(session):
        try:
            return release_batch(session, batch_id, by=by)
        except StateError as exc:
            err.print(f"[red]Fehler:[/red] {exc}")
            return EXIT_USAGE

    batch = _in_session(db, err, release)
    if isinstance(batch, int):
        return batch
    out.write(f"Lieferung {batch.id} ({batch.department}: {batch.source_key}) freigegeben: der nächste Lauf von "
              f"{batch.department} verarbeitet sie erneut aus dem Archiv\n")
    return EXIT_OK
