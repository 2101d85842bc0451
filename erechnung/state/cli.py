"""``erechnung documents [--json] [--db URL]``: the documents in the state database.

With ``--json`` one JSON object per line (``id``, ``department``, ``number``, ``kind``, ``format``, ``verdict``,
``sha256``, ``state``, ``recipient_ref``, ``issue_date``, ``batch_id``, ``created_at``); otherwise a table.
Exit codes: 0 listed (also when there are none), 2 no database there or it cannot be opened.
"""
from __future__ import annotations

import json
import sys
from typing import Optional

EXIT_OK, EXIT_USAGE = 0, 2


def run_documents(db: Optional[str] = None, *, as_json: bool = False, department: Optional[str] = None,
                  state: Optional[str] = None, out=None) -> int:
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from . import database_url, make_engine, migrate, transaction
    from .repository import list_documents

    out = out or sys.stdout
    err = Console(stderr=True, highlight=False)
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
                rows = list_documents(session, department=department, state=state)
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        err.print(f"[red]Error:[/red] cannot read the state database {u.render_as_string(hide_password=True)}: "
                  f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}")
        return EXIT_USAGE
    if as_json:
        for r in rows:
            out.write(json.dumps(r.to_json_dict(), ensure_ascii=False) + "\n")
        out.flush()
        return EXIT_OK
    console = Console(file=out, highlight=False, width=None if out.isatty() else 200)
    table = Table(show_lines=False)
    for col in ("Id", "Bereich", "Nummer", "Art", "Format", "Prüfung", "Zustand", "SHA-256"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r.id), r.department, r.number or "–", r.kind, r.format, r.verdict or "–", r.state,
                      (r.sha256 or "–")[:16])
    console.print(table)
    console.print(f"{len(rows)} Dokument(e)")
    return EXIT_OK
