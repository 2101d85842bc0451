"""The console's pages (``create_app(config_path)``), one handler each; German for everything shown.

=====================================  ===================  ====================================================
path                                   permission           what
=====================================  ===================  ====================================================
``/anmelden`` (GET, POST)              none                 sign in (local accounts); ``/abmelden`` (POST)
``/``                                  signed in            the start page of the user's role
``/ablage`` (GET, POST)                UPLOAD               upload into one's own drop zone; one's files
``/dateien/{id}``                      READ_FILES           a file taken in: documents, quarantine, corrections
``/dateien/{id}/fehlerbericht/{fmt}``  READ_FILES           its error report (html, csv)
``/dokumente``                         READ_DOCUMENTS       search by number, Kassenzeichen, recipient, date, state
``/dokumente/{id}``                    READ_DOCUMENTS       a document: originals, deliveries, notification date
``/dokumente/{id}/ansicht``            READ_DOCUMENTS       the official visualization (viewer CSP, sandboxed)
``/dokumente/{id}/pruefbericht``       READ_DOCUMENTS       its validation report (KoSIT VARL)
``/archiv/{sha256}``                   READ_DOCUMENTS       an archived original, as stored
``/zustellung`` (+ ``/{id}/aktion``)   READ_DELIVERIES      by state and channel, dead letters, print batches;
                                       ACT_ON_DELIVERIES    retry, send on paper, mark delivered (POST)
``/laeufe`` (GET, POST)                START_RUNS           runs per department; start one
``/pruefung`` (GET, POST)              VERIFY               audit verify and archive verify; the access log
=====================================  ===================  ====================================================

A department clerk sees only their departments: every handler that loads a document, file or archived item
checks its department (``_visible``) and answers 404 otherwise, the same as for an unknown id. Every POST needs
the session's CSRF token (403 without). Viewing a document page, its visualization, its report or an archived
original is written to the access log (``erechnung.state.overview.log_access``).
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from erechnung.config import ConfigError, load_config, location_url
from erechnung.html_safety import VIEWER_POLICY
from erechnung.model.clock import BERLIN, berlin_text
from erechnung.model.labels import label
from erechnung.state import make_engine, migrate, transaction
from erechnung.state.repository import StateError

from .auth import DUMMY_HASH, Permission, Principal, new_token, same_token, verify_password
from .runs import RunStarter

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
#: The console's own pages: its stylesheet and forms to itself, nothing else; never framed.
CONSOLE_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
                  "frame-ancestors 'none'")
#: The official visualization runs its own inline script: in a sandbox (an opaque origin, no cookies).
VIEW_POLICY = f"{VIEWER_POLICY}; frame-ancestors 'none'; sandbox allow-scripts"
#: Archived reports shown as they are: they may load nothing (their own CSS inline).
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; sandbox"
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 120
MAX_FIELD = 2000
DOCUMENT_STATES = ("numbered", "rendered", "rejected", "archived", "handed_over")


def _berlin(value: datetime | None) -> str:
    if value is None:
        return "–"
    return berlin_text(value, seconds=True)


def _berlin_text(value: str | None) -> str:
    """An ISO time as the delivery records carry it, shown in Berlin time."""
    if not value:
        return "–"
    try:
        return _berlin(datetime.fromisoformat(value))
    except ValueError:
        return value


def _date(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else "–"


class Console:
    """The application's state: configuration, database, archive, clock, runs, the last checks."""

    def __init__(self, config_path: Path, *, clock: Callable[[], datetime] | None = None,
                 db_url: str | None = None) -> None:
        from erechnung.config import database_url

        self.config_path = Path(config_path)
        self.config = load_config(self.config_path)
        self.section = self.config.console
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.engine = make_engine(db_url or database_url(self.config))
        migrate(self.engine)
        self.runs = RunStarter(self.config_path, self.clock)
        self.checks: dict[str, Any] = {}
        env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
        env.filters.update(berlin=_berlin, berlin_text=_berlin_text, datum=_date, label=label)
        self.env = env

    def secret(self) -> str:
        s = self.section
        if s.session_secret_env and os.environ.get(s.session_secret_env):
            return os.environ[s.session_secret_env]
        if s.session_secret_file:
            return self.config.path(s.session_secret_file).read_text(encoding="utf-8").strip()
        log.warning("no [console] session_secret_env/_file: sessions end when the console stops")
        return secrets.token_urlsafe(48)

    def archive(self):
        from ..wiring import open_archive

        return open_archive(self.config_path)

    def delivery_config(self):
        from erechnung.delivery.config import delivery_config

        from ..wiring import effective_section

        return delivery_config(effective_section(self.config))


# ================================================================================================ plumbing


def _console(request: Request) -> Console:
    return request.app.state.console


def _principal(request: Request) -> Principal | None:
    c = _console(request)
    s = c.section
    if s.trusted_header and request.client and request.client.host in s.trusted_proxies:
        name = request.headers.get(s.trusted_header)
        if name:
            user = s.user(name.strip())
            if user is None:
                raise HTTPException(403, "Dieser Benutzer ist für die Konsole nicht freigegeben.")
            return Principal.of(user)
    name = request.session.get("user")
    since = request.session.get("since", 0)
    if not name or time.time() - since > s.session_minutes * 60:
        return None
    user = s.user(name)
    return Principal.of(user) if user is not None else None


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_token()
    return token


def _page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    c = _console(request)
    body = c.env.get_template(template).render(
        user=values.pop("user", None), csrf=_csrf(request), now=c.clock(), title=values.pop("title", "eRechnung"),
        Permission=Permission, **values)
    return HTMLResponse(body, status_code=status)


def _require(request: Request, permission: Permission | None = None) -> Principal:
    user = _principal(request)
    if user is None:
        raise HTTPException(401)  # turned into the login page (a redirect) by the handler below
    if permission is not None and not user.may(permission):
        raise HTTPException(403, "Ihre Rolle erlaubt diese Seite nicht.")
    return user


def _visible(user: Principal, department: str | None) -> None:
    """404 for what belongs to a department the user may not see: the same answer as for nothing there."""
    if not user.sees(department):
        raise HTTPException(404)


async def _form(request: Request, **limits: int) -> Any:
    """The form of a POST whose CSRF token matches the session's (403 otherwise)."""
    form = await request.form(max_files=limits.get("max_files", 0), max_fields=20, max_part_size=64 * 1024)
    if not same_token(form.get("csrf"), request.session.get("csrf")):
        raise HTTPException(403, "Das Formular ist abgelaufen oder stammt nicht von dieser Seite (CSRF-Schutz). "
                                 "Laden Sie die Seite neu und senden Sie es noch einmal.")
    return form


def _text(form: Any, key: str, limit: int = MAX_FIELD) -> str:
    value = form.get(key)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _log(request: Request, user: Principal, action: str, *, document_id: int | None = None,
         batch_id: int | None = None) -> None:
    from erechnung.state.overview import log_access

    c = _console(request)
    with transaction(c.engine) as s:
        log_access(s, user=user.name, role=user.role.value, action=action, path=request.url.path,
                   remote=request.client.host if request.client else None, now=c.clock(),
                   document_id=document_id, batch_id=batch_id)


# ================================================================================================ sign in


async def login(request: Request) -> Response:
    c = _console(request)
    if request.method == "GET":
        return _page(request, "login.html", title="Anmelden", next=request.query_params.get("weiter", "/"))
    form = await _form(request)
    name, password = _text(form, "name", 100), (form.get("password") or "")[:2048]
    user = c.section.user(name)
    ok = verify_password(password, user.password_hash if user else DUMMY_HASH) and user is not None
    from erechnung.state.overview import log_access

    with transaction(c.engine) as s:
        log_access(s, user=name or "-", role=user.role.value if ok else None, action="login" if ok else
                   "login_failed", path="/anmelden", remote=request.client.host if request.client else None,
                   now=c.clock())
    if not ok:
        return _page(request, "login.html", status=401, title="Anmelden", next="/",
                     error="Benutzername oder Passwort ist falsch.")
    request.session.clear()
    request.session.update(user=user.name, since=int(time.time()), csrf=new_token())
    target = _text(form, "next", 300)
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return RedirectResponse(target if local else "/", 303)  # only a path of this site (no open redirect)


async def logout(request: Request) -> Response:
    await _form(request)
    request.session.clear()
    return RedirectResponse("/anmelden", 303)


async def home(request: Request) -> Response:
    user = _require(request)
    target = {"department": "/ablage", "finance": "/zustellung", "auditor": "/dokumente", "admin": "/zustellung"}
    return RedirectResponse(target[user.role.value], 303)


async def stylesheet(request: Request) -> Response:
    return Response((HERE / "console.css").read_bytes(), media_type="text/css",
                    headers={"Cache-Control": "max-age=3600"})


# ================================================================================================ departments


def _departments(c: Console, user: Principal) -> list[tuple[str, str]]:
    return [(d, dep.name) for d, dep in c.config.departments.items() if user.sees(d)]


def _safe_name(filename: str) -> str:
    name = SAFE_NAME.sub("_", Path(filename.replace("\\", "/")).name).strip("._")
    return name[-MAX_NAME:] if name else ""


async def upload(request: Request) -> Response:
    from erechnung.state.repository import list_batches
    from erechnung.storage import open_storage

    user = _require(request, Permission.UPLOAD)
    c = _console(request)
    message = error = None
    if request.method == "POST":
        limit = c.config.limits.file_bytes
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > limit + 64 * 1024:
            raise HTTPException(413, f"Die Datei ist größer als {limit} Bytes (Grenze limits.file_bytes).")
        form = await _form(request, max_files=1)
        department = _text(form, "abteilung", 64)
        _visible(user, department)
        if department not in c.config.departments:
            raise HTTPException(404)
        upload_file = form.get("datei")
        if upload_file is None or isinstance(upload_file, str) or not upload_file.filename:
            error = "Bitte wählen Sie eine Datei aus."
        else:
            data = await upload_file.read(limit + 1)
            name = _safe_name(upload_file.filename)
            if len(data) > limit:
                error = f"Die Datei ist größer als {limit} Bytes (Grenze limits.file_bytes)."
            elif not data:
                error = "Die Datei ist leer."
            elif not name:
                error = "Der Dateiname enthält kein verwendbares Zeichen; benennen Sie die Datei um."
            else:
                key = f"{c.clock().astimezone(BERLIN).strftime('%Y%m%dT%H%M%S')}_{name}"
                from erechnung.config.s3 import s3_options  # an s3:// zone's server ([s3], or the sandbox's)

                zone = open_storage(location_url(c.config, c.config.department(department).drop_zone),
                                    s3_options=s3_options(c.config))
                if zone.put(key, data, if_absent=True):
                    message = (f"{name} liegt in der Ablage der Abteilung {c.config.department(department).name} "
                               f"als {key}; der nächste Lauf verarbeitet die Datei.")
                    _log(request, user, "file_uploaded")
                else:
                    error = "Eine Datei dieses Namens wurde gerade schon abgelegt."
    with transaction(c.engine) as s:
        files = [b for d, _ in _departments(c, user) for b in list_batches(s, department=d)]
    files.sort(key=lambda b: b.id, reverse=True)
    return _page(request, "upload.html", user=user, title="Ablage", departments=_departments(c, user),
                 files=files, message=message, error=error, limit=c.config.limits.file_bytes,
                 status=400 if error else 200)


async def batch_page(request: Request) -> Response:
    from erechnung.state.repository import (archived_items, corrections_of, get_batch, list_documents,
                                            quarantine_of)

    user = _require(request, Permission.READ_FILES)
    c = _console(request)
    batch_id = request.path_params["batch_id"]
    with transaction(c.engine) as s:
        try:
            batch = get_batch(s, batch_id)
        except StateError:
            raise HTTPException(404) from None
        _visible(user, batch.department)
        documents = list_documents(s, batch_id=batch_id)
        quarantine = quarantine_of(s, batch_id)
        reports = [i for i in archived_items(s, batch_id=batch_id) if i.kind == "error_report"]
        corrections = corrections_of(s, [d.id for d in documents])
    _log(request, user, "file_viewed", batch_id=batch_id)
    return _page(request, "batch.html", user=user, title=f"Datei {batch.source_key}", batch=batch,
                 documents=documents, quarantine=quarantine, reports=reports, corrections=corrections)


async def error_report(request: Request) -> Response:
    from erechnung.state.repository import archived_items, get_batch

    user = _require(request, Permission.READ_FILES)
    c = _console(request)
    batch_id, fmt = request.path_params["batch_id"], request.path_params["fmt"]
    media = {"html": "text/html", "csv": "text/csv"}.get(fmt)
    if media is None:
        raise HTTPException(404)
    with transaction(c.engine) as s:
        try:
            batch = get_batch(s, batch_id)
        except StateError:
            raise HTTPException(404) from None
        _visible(user, batch.department)
        item = next((i for i in archived_items(s, batch_id=batch_id)
                     if i.kind == "error_report" and i.media_type == media), None)
    if item is None:
        raise HTTPException(404)
    _log(request, user, "error_report_downloaded", batch_id=batch_id)
    data = c.archive().get(item.sha256)
    headers = {"Content-Security-Policy": REPORT_POLICY}
    if fmt == "csv":
        headers["Content-Disposition"] = f'attachment; filename="fehlerbericht-{batch_id}.csv"'
    return Response(data, media_type=f"{media}; charset=utf-8", headers=headers)


# ================================================================================================ documents


def _search_of(request: Request):
    from erechnung.state.overview import DocumentSearch

    q = request.query_params
    issued = None
    raw = (q.get("datum") or "").strip()[:10]
    if raw:
        try:
            issued = date.fromisoformat(raw)
        except ValueError:
            issued = None
    state = (q.get("zustand") or "").strip()
    return DocumentSearch(number=(q.get("nummer") or "").strip()[:100],
                          kassenzeichen=(q.get("kassenzeichen") or "").strip()[:100],
                          recipient=(q.get("empfaenger") or "").strip()[:200], issued_on=issued,
                          state=state if state in DOCUMENT_STATES else "")


async def documents(request: Request) -> Response:
    from erechnung.state.overview import find_documents

    user = _require(request, Permission.READ_DOCUMENTS)
    c = _console(request)
    search = _search_of(request)
    with transaction(c.engine) as s:
        found = find_documents(s, search, departments=user.scope)
    return _page(request, "documents.html", user=user, title="Dokumente", search=search, found=found,
                 states=DOCUMENT_STATES)


def _document(c: Console, user: Principal, s, document_id: int):
    from erechnung.state.schema import Document

    doc = s.get(Document, document_id)
    if doc is None:
        raise HTTPException(404)
    _visible(user, doc.department)
    return doc


async def document_page(request: Request) -> Response:
    from erechnung.delivery.report import delivery_records
    from erechnung.state.overview import kassenzeichen_of
    from erechnung.state.repository import archived_items, get_recipient
    from erechnung.state.delivery_schema import DeadLetter, NotificationDate
    from sqlalchemy import select

    user = _require(request, Permission.READ_DOCUMENTS)
    c = _console(request)
    document_id = request.path_params["document_id"]
    with transaction(c.engine) as s:
        doc = _document(c, user, s, document_id)
        recipient = get_recipient(s, doc.department, doc.recipient_ref) if doc.recipient_ref else None
        items = archived_items(s, document_id=document_id)
        deliveries = delivery_records(s, document_id=document_id)
        dates = list(s.execute(select(NotificationDate).where(NotificationDate.document_id == document_id))
                     .scalars())
        dead = s.execute(select(DeadLetter).where(DeadLetter.document_id == document_id)).scalar_one_or_none()
        kassenzeichen = kassenzeichen_of(s, document_id)
    _log(request, user, "document_viewed", document_id=document_id)
    return _page(request, "document.html", user=user, title=f"Dokument {doc.number or doc.id}", doc=doc,
                 recipient=recipient, items=items, deliveries=deliveries, dates=dates, dead=dead,
                 kassenzeichen=kassenzeichen, department=c.config.departments.get(doc.department))


def _archived(c: Console, user: Principal, document_id: int, kind: str):
    from erechnung.state.repository import archived_items

    with transaction(c.engine) as s:
        doc = _document(c, user, s, document_id)
        item = next((i for i in archived_items(s, document_id=document_id) if i.kind == kind), None)
    if item is None:
        raise HTTPException(404)
    return doc, item


async def visualization(request: Request) -> Response:
    from erechnung.view import ViewError, render_html

    user = _require(request, Permission.READ_DOCUMENTS)
    c = _console(request)
    document_id = request.path_params["document_id"]
    doc, item = _archived(c, user, document_id, "document")
    _log(request, user, "document_visualized", document_id=document_id)
    try:
        page = render_html(c.archive().get(item.sha256), f"{doc.number or doc.id}")
    except ViewError as exc:
        return _page(request, "message.html", status=422, user=user, title="Keine Ansicht",
                     text=f"Für dieses Dokument gibt es keine Visualisierung: {exc}")
    return Response(page, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": VIEW_POLICY})


async def validation_report(request: Request) -> Response:
    user = _require(request, Permission.READ_DOCUMENTS)
    c = _console(request)
    document_id = request.path_params["document_id"]
    doc, item = _archived(c, user, document_id, "report")
    _log(request, user, "validation_report_viewed", document_id=document_id)
    text = c.archive().get(item.sha256).decode("utf-8", "replace")
    return _page(request, "report.html", user=user, title="Prüfbericht", doc=doc, item=item, text=text)


async def archived_original(request: Request) -> Response:
    from erechnung.state.schema import ArchiveItem, Batch, Document

    user = _require(request, Permission.READ_DOCUMENTS)
    c = _console(request)
    sha = request.path_params["sha256"]
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise HTTPException(404)
    with transaction(c.engine) as s:
        item = s.get(ArchiveItem, sha)
        if item is None:
            raise HTTPException(404)
        _visible(user, item.department)
        media = item.media_type
    _log(request, user, "original_downloaded", document_id=item.document_id, batch_id=item.batch_id)
    return Response(c.archive().get(sha), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{sha[:16]}"', "Content-Security-Policy": REPORT_POLICY})


# ================================================================================================ finance


async def deliveries(request: Request) -> Response:
    from erechnung.delivery.report import dead_letter_records
    from erechnung.state.overview import deliveries_by_channel_and_state, failed_deliveries

    user = _require(request, Permission.READ_DELIVERIES)
    c = _console(request)
    with transaction(c.engine) as s:
        counts = deliveries_by_channel_and_state(s)
        dead = dead_letter_records(s)
        failed = failed_deliveries(s)
    channels = sorted({ch for ch, _ in counts})
    states = sorted({st for _, st in counts})
    return _page(request, "deliveries.html", user=user, title="Zustellung", counts=counts, channels=channels,
                 states=states, dead=dead, failed=failed, print_batches=_print_batches(c),
                 message=request.query_params.get("ok", "")[:300],
                 error=request.query_params.get("fehler", "")[:500])


def _print_batches(c: Console) -> list[tuple[str, int]]:
    from ..wiring import ChannelConfigError, effective_section

    try:
        section = effective_section(c.config)
    except ChannelConfigError:
        return []
    printing = getattr(section, "print", None)
    if printing is None:
        return []
    outbox = c.config.path(printing.outbox)
    if not outbox.is_dir():
        return []
    return sorted(((str(p.relative_to(outbox)), p.stat().st_size) for p in outbox.rglob("*")
                   if p.is_file() and p.suffix in (".pdf", ".csv") and not p.name.startswith(".")),
                  reverse=True)[:100]


async def delivery_action(request: Request) -> Response:
    from urllib.parse import quote

    from erechnung.delivery import actions

    user = _require(request, Permission.ACT_ON_DELIVERIES)
    c = _console(request)
    form = await _form(request)
    document_id = request.path_params["document_id"]
    action, note = _text(form, "aktion", 40), _text(form, "notiz")
    now = c.clock()
    try:
        with transaction(c.engine) as s:
            _document(c, user, s, document_id)
            if action == actions.Action.RETRY:
                actions.retry(s, document_id, by=user.name, note=note, now=now, config=c.delivery_config())
            elif action == actions.Action.SEND_ON_PAPER:
                actions.send_on_paper(s, document_id, by=user.name, note=note, now=now,
                                      config=c.delivery_config())
            elif action == actions.Action.MARK_DELIVERED:
                actions.mark_delivered(s, document_id, by=user.name, note=note, now=now)
            else:
                raise HTTPException(400, "Unbekannte Aktion.")
    except actions.ActionRefused as exc:
        return RedirectResponse(f"/zustellung?fehler={quote(str(exc))}", 303)
    label = actions.Action(action).label
    return RedirectResponse(f"/zustellung?ok={quote(f'Dokument {document_id}: {label}')}", 303)


async def runs(request: Request) -> Response:
    from sqlalchemy import select

    from erechnung.state.overview import files_per_department
    from erechnung.state.schema import Run

    user = _require(request, Permission.START_RUNS)
    c = _console(request)
    message = None
    if request.method == "POST":
        form = await _form(request)
        department = _text(form, "abteilung", 64)
        if department not in c.config.departments:
            raise HTTPException(404)
        started = c.runs.start(department, user.name)
        message = (f"Lauf für {c.config.department(department).name} gestartet." if started else
                   f"Für {c.config.department(department).name} läuft schon ein Lauf.")
    with transaction(c.engine) as s:
        per_department = files_per_department(s)
        recent = list(s.execute(select(Run).order_by(Run.started_at.desc()).limit(20)).scalars())
    return _page(request, "runs.html", user=user, title="Läufe", departments=c.config.departments,
                 per_department=per_department, recent=recent, started=c.runs.states, message=message)


async def checks(request: Request) -> Response:
    from erechnung.delivery.audit import verify_against_archive
    from erechnung.state.overview import access_log

    user = _require(request, Permission.VERIFY)
    c = _console(request)
    if request.method == "POST":
        form = await _form(request)
        what = _text(form, "pruefung", 20)
        archive = c.archive()
        if what == "audit":
            with transaction(c.engine) as s:
                report = verify_against_archive(s, archive.checkpoints())
            c.checks["audit"] = {"at": c.clock(), "ok": report.ok, "text": report.text(), "by": user.name}
        elif what == "archiv":
            findings = list(archive.audit())
            c.checks["archive"] = {"at": c.clock(), "ok": not findings, "by": user.name,
                                   "text": "\n".join(f"{f.problem}: {f.key}: {f.detail}" for f in findings)
                                   or f"{archive.audited} Objekt(e) geprüft, keine Befunde"}
        else:
            raise HTTPException(400, "Unbekannte Prüfung.")
    with transaction(c.engine) as s:
        entries = access_log(s)
    return _page(request, "checks.html", user=user, title="Prüfung", checks=c.checks, entries=entries)


# ================================================================================================ the app


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 401:
        if request.method == "GET":
            from urllib.parse import quote

            return RedirectResponse(f"/anmelden?weiter={quote(request.url.path)}", 303)
        return PlainTextResponse("Bitte melden Sie sich an.", 401)
    texts = {403: "Zugriff verweigert.", 404: "Nicht gefunden.", 413: "Die Anfrage ist zu groß."}
    detail = exc.detail if exc.detail and exc.detail != _default_phrase(exc.status_code) else ""
    try:
        user = _principal(request)
    except HTTPException:
        user = None
    return _page(request, "message.html", status=exc.status_code, user=user, title=texts.get(exc.status_code,
                 "Fehler"), text=detail or texts.get(exc.status_code, "Die Anfrage ist fehlerhaft."))


def _default_phrase(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


class _SecurityHeaders:
    """Every answer: a Content-Security-Policy (the console's unless a handler set its own), no sniffing, no
    referrer, no caching of personal data, never in a frame."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {b"content-security-policy": CONSOLE_POLICY.encode(),
                         b"x-content-type-options": b"nosniff", b"referrer-policy": b"no-referrer",
                         b"x-frame-options": b"DENY", b"cache-control": b"no-store"}
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(config_path: str | Path, *, clock: Callable[[], datetime] | None = None,
               db_url: str | None = None) -> Starlette:
    """The console as an ASGI application for the configuration at ``config_path``."""
    console = Console(Path(config_path), clock=clock, db_url=db_url)
    routes = [
        Route("/anmelden", login, methods=["GET", "POST"]),
        Route("/abmelden", logout, methods=["POST"]),
        Route("/", home),
        Route("/console.css", stylesheet),
        Route("/favicon.ico", lambda request: Response(status_code=204)),  # no icon, and no 404 for it
        Route("/ablage", upload, methods=["GET", "POST"]),
        Route("/dateien/{batch_id:int}", batch_page),
        Route("/dateien/{batch_id:int}/fehlerbericht/{fmt}", error_report),
        Route("/dokumente", documents),
        Route("/dokumente/{document_id:int}", document_page),
        Route("/dokumente/{document_id:int}/ansicht", visualization),
        Route("/dokumente/{document_id:int}/pruefbericht", validation_report),
        Route("/archiv/{sha256}", archived_original),
        Route("/zustellung", deliveries),
        Route("/zustellung/{document_id:int}/aktion", delivery_action, methods=["POST"]),
        Route("/laeufe", runs, methods=["GET", "POST"]),
        Route("/pruefung", checks, methods=["GET", "POST"]),
    ]
    middleware = [Middleware(_SecurityHeaders),
                  Middleware(SessionMiddleware, secret_key=console.secret(), session_cookie="erechnung_sitzung",
                             max_age=console.section.session_minutes * 60, same_site="strict",
                             https_only=console.section.secure)]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: _http_error})
    app.state.console = console
    return app


def serve(config_path: Path, host: str = "127.0.0.1", port: int = 8080) -> int:
    """Run the console with uvicorn until Ctrl+C; exit 2 on a configuration mistake."""
    import sys

    import uvicorn

    try:
        app = create_app(config_path)
    except ConfigError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False)
    return 0
