"""Rendering and validation: the recipient decides the form, the official rules decide whether it goes on.

``choose_format(kind, recipient)``:

* a notice becomes the notice PDF/A (with its payment claim embedded as XRechnung where payment is due and the
  addressee has an electronic address);
* an invoice or credit note to a public body (it has a Leitweg-ID) or to a business that takes e-invoices by
  Peppol becomes XRechnung UBL (Peppol's syntax); to any other business XRechnung CII;
* an invoice to a citizen becomes a ZUGFeRD PDF (a letter to read, the CII inside for their software), in the
  profile ``Options.hybrid_profile``;
* a finished document a department delivers (the Stadtbibliothek's) passes through unchanged.

``render_items(items, work, hybrid_profile)`` runs in a worker process (or in the caller's for ``workers=1``): per
item it reads the model intake left in the work area, renders it, validates it by the official rules (XML as it
is; a PDF by its embedded XML; a notice without a claim, which carries no invoice, by its PDF/A-3 properties),
writes the document and the report into the work area and returns a small :class:`Rendered`. The Validator, the
design and the notice texts are created once per worker process (:func:`init_worker`); Saxon is therefore only
ever created inside a spawned worker, never in a process that forks.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..model.delivery import Channel
from ..model.documents import DocumentFormat, DocumentKind

MEDIA = {"xml": "application/xml", "pdf": "application/pdf", "json": "application/json"}


def choose_format(kind: str, recipient: Any = None, *, passthrough: bool = False) -> DocumentFormat:
    """The form of a document (see the module docstring)."""
    if passthrough:
        return DocumentFormat.PASSTHROUGH
    if kind == DocumentKind.NOTICE:
        return DocumentFormat.NOTICE_PDF
    rkind = str(getattr(recipient, "kind", "citizen") or "citizen")
    channels = {str(c) for c in getattr(recipient, "channels", ())}
    if rkind == "public_body" or getattr(recipient, "leitweg_id", None):
        return DocumentFormat.UBL
    if rkind == "company":
        peppol = Channel.PEPPOL in channels or getattr(recipient, "peppol_id", None)
        return DocumentFormat.UBL if peppol else DocumentFormat.CII
    return DocumentFormat.ZUGFERD


@dataclass(frozen=True)
class RenderItem:
    """What a worker needs to render one document."""

    id: int
    key: str  # the idempotency key: names the model file
    format: str
    kind: str
    number: str | None = None
    department: str = ""
    salutation: str | None = None  # the recipient register's Anrede for the letter (issue 11)


@dataclass(frozen=True)
class Rendered:
    """The outcome for one document: ``verdict`` accept | reject, or ``missing`` (no model in the work area: the
    caller rebuilds it from the archived batch)."""

    id: int
    verdict: str
    sha256: str | None = None
    report_sha256: str | None = None
    reason: str = ""
    errors: tuple[str, ...] = ()
    extension: str = "xml"
    report_extension: str = "xml"
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()  # what the official rules only warn about (an accepted document's hints)


@dataclass
class _Worker:
    validator: Any
    design: Any
    notice_config: Any
    work: Any
    hybrid_profile: str
    peak_rss_kb: int = 0
    documents: int = field(default=0)


_STATE: _Worker | None = None
_IN_PROCESS = threading.Lock()  # in-process rendering, one chunk at a time: Saxon and reportlab are not thread-safe


def _make_state(work_root: str | Path, hybrid_profile: str, design: Any = None) -> _Worker:
    from validators.engine import Validator

    from ..config.design import load_design
    from .context import WorkArea

    validator = Validator.for_bundle()
    validator.warm_up()
    design = design or load_design()  # the configuration's (Config.design()); the sample city's without one
    try:
        from ..notices.config import load_config

        notice_config = load_config(design.source.parent)
    except Exception:  # noqa: BLE001 - notices without their texts are reported per document
        notice_config = None
    return _Worker(validator, design, notice_config, WorkArea(Path(work_root)), hybrid_profile)


def warm_up_invoice():
    """The document a worker warms up with: a small invoice of a made-up municipality (two VAT rates, a document
    allowance), built here so that warming up needs nothing but the builder."""
    from datetime import date

    from ..builder import build_invoice, customer, document_allowance, item_line, municipality

    seller = municipality("Stadt Vorlauf", street="Rathausplatz 1", post_code="12345", city="Vorlauf",
                          contact_name="Stadtkasse", contact_phone="+49 1234 567-0",
                          contact_email="stadtkasse@vorlauf.example", electronic_address="rechnung@vorlauf.example",
                          vat_id="DE123456789", legal_registration_id="09162000")
    buyer = customer("Beispiel GmbH", street="Industriestr. 7", post_code="12345", city="Vorlauf",
                     electronic_address="buchhaltung@beispiel.example", vat_id="DE987654321")
    return build_invoice(
        number="WARM-UP-1", issue_date=date(2026, 11, 2), seller=seller, buyer=buyer, leitweg_id="991-33333TEST-33",
        iban="DE02120300000000202051", kassenzeichen="0.0000.000001.0", due_date=date(2026, 12, 2),
        lines=[item_line("Miete Stadthalle", 2, "450.00", vat_rate=19, unit_code="DAY"),
               item_line("Bewirtung Getränke", 40, "2.50", vat_rate=7, unit_code="H87")],
        allowances=[document_allowance(percentage=10, base_amount="900.00", reason="Vereinsrabatt",
                                       vat_category="S", vat_rate=19)])


def _warm(state: _Worker) -> None:
    """Render and validate one hybrid of each kind, so that every stylesheet a document needs is compiled before
    the first real chunk (the PDF scenarios are compiled on first use)."""
    try:
        from ..documents.hybrid import make_hybrid

        state.validator.validate(make_hybrid(warm_up_invoice(), state.hybrid_profile, state.design), "warm-up.pdf")
    except Exception:  # noqa: BLE001 - warming up is an optimisation only
        pass


def _exit_with_parent(parent: int) -> None:
    """A worker whose coordinator died (SIGKILL, OOM) would wait for work forever, holding its memory: it ends
    itself once its parent is gone (polled; a parent-death signal would fire when the spawning *thread* ends)."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="erechnung-parent-watch", daemon=True).start()


def init_worker(work_root: str, hybrid_profile: str, warm: bool = True, parent: int | None = None,
                design: Any = None) -> None:
    """Pool initializer: this worker's Validator, design and notice texts, created once. ``parent``: the
    coordinator's pid (it may have died before this runs)."""
    global _STATE
    _exit_with_parent(parent or os.getppid())
    _STATE = _make_state(work_root, hybrid_profile, design)
    if warm:
        _warm(_STATE)


def local_state(work_root: str | Path, hybrid_profile: str, design: Any = None) -> _Worker:
    """The in-process worker state (``workers=1``), created on first use and kept for this process."""
    global _STATE
    if _STATE is None or str(_STATE.work.root) != str(work_root) or _STATE.hybrid_profile != hybrid_profile:
        if _STATE is not None and _STATE.hybrid_profile == hybrid_profile:
            from .context import WorkArea

            _STATE.work = WorkArea(Path(work_root))
        else:
            _STATE = _make_state(work_root, hybrid_profile, design)
    if design is not None and _STATE.design != design:  # another municipality in this process
        _STATE = _make_state(work_root, hybrid_profile, design)
    return _STATE


def worker_ping(_: int) -> int:
    return os.getpid()


def render_chunk(items: Sequence[RenderItem]) -> list[Rendered]:
    """Pool task: render and validate a chunk with this worker's state."""
    if _STATE is None:
        raise RuntimeError(f"worker {os.getpid()} was not initialized")
    return [render_one(_STATE, item) for item in items]


def render_items(items: Sequence[RenderItem], work_root: str | Path, hybrid_profile: str,
                 design: Any = None) -> list[Rendered]:
    """Render and validate in this process (``workers=1``), one caller at a time."""
    with _IN_PROCESS:
        state = local_state(work_root, hybrid_profile, design)
        return [render_one(state, item) for item in items]


# ------------------------------------------------------------------------------------------------ one document


def _report_json(verdict: str, reason: str, problems: Sequence[str], **extra: Any) -> bytes:
    return json.dumps({"verdict": verdict, "reason": reason, "problems": list(problems), **extra},
                      ensure_ascii=False, indent=1).encode("utf-8")


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _ext(data: bytes) -> str:
    return "pdf" if data[:5] == b"%PDF-" else "xml"


def render_one(state: _Worker, item: RenderItem) -> Rendered:
    started = time.perf_counter()
    model = state.work.read_model(item.key)
    if model is None:
        return Rendered(item.id, "missing", reason="no model in the work area")
    try:
        data = _render(state, item, model)
    except Exception as exc:  # noqa: BLE001 - a document that cannot be rendered is rejected with the reason
        report = _report_json("reject", "render-error", [f"{type(exc).__name__}: {exc}"], format=item.format)
        state.work.write_rendered(item.id, None, report)
        return Rendered(item.id, "reject", None, _sha(report), "render-error",
                        (f"{type(exc).__name__}: {str(exc)[:300]}",), report_extension="json",
                        seconds=time.perf_counter() - started)
    ext = _ext(data)
    name = f"{item.number or item.id}.{ext}"
    warnings: tuple[str, ...] = ()
    if item.format == "notice_pdf" and not _has_claim(model):
        verdict, reason, errors, report, rext = _check_pdfa(data)
    else:
        result = state.validator.validate(data, name)
        verdict, reason = result.verdict, result.reason
        errors = tuple(f"{m.code}: {m.text[:300]}" for m in list(getattr(result, "errors", ()))[:5])
        warnings = tuple(f"{m.code}: {m.text[:300]}" for m in list(getattr(result, "warnings", ()))[:5])
        report = getattr(result, "report", b"") or b""
        rext = "xml"
        if not report:
            report, rext = json.dumps(result.to_json_dict(), ensure_ascii=False, indent=1).encode("utf-8"), "json"
    state.work.write_rendered(item.id, data, report)
    return Rendered(item.id, verdict, _sha(data), _sha(report), reason, errors, ext, rext,
                    time.perf_counter() - started, warnings)


def _has_claim(model: Any) -> bool:
    return bool(getattr(model, "payment_due", False) and getattr(getattr(model, "addressee", None),
                                                                  "electronic_address", None))


def _render(state: _Worker, item: RenderItem, model: Any) -> bytes:
    if item.format == DocumentFormat.PASSTHROUGH:
        return model["passthrough"]
    if item.format in (DocumentFormat.UBL, DocumentFormat.CII):
        from ..syntax import write_invoice

        return write_invoice(model, item.format)
    if item.format == DocumentFormat.ZUGFERD:
        from ..documents.hybrid import HybridProfileError, make_hybrid

        # XRechnung requires the buyer's electronic address (BT-49), EN 16931 does not: a citizen without an
        # e-mail address gets the letter with the EN 16931 data embedded (issue 11)
        profile = state.hybrid_profile if model.buyer.electronic_address is not None else "EN16931"
        try:
            return make_hybrid(model, profile, state.design, item.salutation)
        except HybridProfileError:  # an invoice that cannot be stated as plain EN 16931
            return make_hybrid(model, "XRECHNUNG", state.design, item.salutation)
    if item.format == "notice_pdf":
        from ..notices.render import render_notice

        return render_notice(model, state.design, state.notice_config, embed_claim=_has_claim(model))
    raise ValueError(f"unknown document format {item.format!r}")


def _check_pdfa(data: bytes) -> tuple[str, str, tuple[str, ...], bytes, str]:
    """A notice without a payment claim carries no invoice to validate: its PDF/A-3 properties are checked."""
    from ..documents.checks import pdfa_problems

    problems = pdfa_problems(data)
    verdict = "reject" if problems else "accept"
    reason = "pdfa-problems" if problems else "accepted"
    report = _report_json(verdict, reason, problems, check="PDF/A-3 (ISO 19005-3), documents.checks.pdfa_problems",
                          note="notice without an embedded payment claim: no invoice XML to validate")
    return verdict, reason, tuple(problems[:5]), report, "json"


__all__ = ["MEDIA", "RenderItem", "Rendered", "choose_format", "init_worker", "render_chunk", "render_items",
           "render_one"]
