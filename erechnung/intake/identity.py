"""A record's business identity: what makes it *this* document in the department's business, independent of the
file it came in (issue 11: a corrected file never bills twice).

The pipeline creates a document once per identity and department. A record delivered again (the same file under
another name, the file again with one row fixed) has the identity of the document made before: unchanged, it is
skipped (the report says "bereits erzeugt als ..."); changed, it is not issued again and the report says what
differs and what to do.

The identity is configured per mapping profile::

    [identity]
    fields = ["kassenzeichen", "period"]

with these fields (:data:`FIELDS`); the default (no ``[identity]``) is the department's own document number,
else the Kassenzeichen, else the value of ``group_by``, together with the billing period, else the issue date.
A record without any of them (no ``group_by``: one document per row) has no identity and is not checked.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, field_validator


def _data(draft) -> dict[str, Any]:
    return (draft.invoice if draft.invoice is not None else draft.notice) or {}


def _period(draft) -> Any:
    period = _data(draft).get("invoicing_period")
    if period:
        return period
    assessment = _data(draft).get("assessment") or {}
    return assessment.get("year") if isinstance(assessment, dict) else None


#: Identity fields a profile may name: field -> its value in a draft.
FIELDS: dict[str, Callable[[Any], Any]] = {
    "number": lambda d: d.number,
    "kassenzeichen": lambda d: _data(d).get("kassenzeichen"),
    "group": lambda d: d.key,
    "issue_date": lambda d: _data(d).get("issue_date"),
    "period": _period,
    "recipient": lambda d: d.recipient_ref or d.recipient.customer_number,
}
#: The default identity: the first reference that is there, then the first date that is there.
DEFAULT_REFERENCE = ("number", "kassenzeichen", "group")
DEFAULT_DATE = ("period", "issue_date")


class IdentityRule(BaseModel):
    """``[identity]`` of a mapping profile: ``fields`` (empty: the default, see the module's docstring) and
    ``on_change``, what becomes of a record whose document exists with other content:

    ``"report"`` (the default)
        nothing is issued; the department's report says what differs and how to correct it.
    ``"correct"``
        the pipeline corrects it: an invoice is cancelled by a credit note (BT-3 ``381``) that names it as
        preceding invoice (BG-3: BT-25 number, BT-26 date), and the changed record becomes a new invoice; a notice
        becomes an Änderungsbescheid that names the notice it changes and takes its place (§§ 48, 49 VwVfG,
        §§ 172 ff. AO). A changed credit note is reported as with ``"report"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    fields: tuple[str, ...] = ()
    on_change: Literal["report", "correct"] = "report"

    @field_validator("fields")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from pydantic_core import PydanticCustomError

        for name in v:
            if name not in FIELDS:
                raise PydanticCustomError("config", "{problem}", {
                    "problem": f"{name!r}: kein Merkmal der Belegidentität",
                    "fix": "erlaubt: " + ", ".join(FIELDS)})
        return v


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False) if isinstance(value, (dict, list)) \
        else str(value)


def business_identity(draft, rule: IdentityRule, *, grouped: bool) -> str | None:
    """The draft's identity as text (``field=value`` joined by ``|``), or None when it has none. ``grouped``:
    the profile has ``group_by`` (without it the group is a row number, no business key)."""
    def value(name: str) -> Any:
        if name == "group" and not grouped:
            return None
        found = FIELDS[name](draft)
        return found if found not in (None, "", [], {}) else None

    if rule.fields:
        parts = [(name, value(name)) for name in rule.fields]
        if all(v is None for _, v in parts):
            return None
    else:
        ref = next(((n, value(n)) for n in DEFAULT_REFERENCE if value(n) is not None), None)
        if ref is None:
            return None
        parts = [ref, next(((n, value(n)) for n in DEFAULT_DATE if value(n) is not None), ("issue_date", None))]
    parts = [("kind", draft.kind), *parts]  # an invoice and its credit note are two documents
    return "|".join(f"{name}={'' if v is None else _text(v)}" for name, v in parts)[:500]


def draft_content(draft) -> dict[str, Any]:
    """What the document says, as JSON-safe data (dates and amounts as text): kind, recipient and the data."""
    data = {k: v for k, v in _data(draft).items() if k != "number"}
    return json.loads(json.dumps({"kind": draft.kind, "notice_type": draft.notice_type,
                                  "recipient": draft.recipient_ref or draft.recipient.customer_number, "data": data},
                                 sort_keys=True, default=str))


def content_sha256(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


#: How the report names a part of a document that changed.
LABELS = {"lines": "Position", "due_date": "Fälligkeit", "issue_date": "Belegdatum", "buyer": "Empfänger",
          "addressee": "Empfänger", "recipient": "Empfänger", "direct_debit": "Lastschrift",
          "assessment": "Festsetzung", "already_paid": "bereits gezahlt", "kind": "Belegart",
          "notice_type": "Bescheidart", "invoicing_period": "Abrechnungszeitraum", "notes": "Hinweistext"}


def _flat(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value, 1) for k, v in _flat(item, f"{prefix} {i}").items()}
    return {prefix: value}


def changes(before: dict[str, Any], after: dict[str, Any], *, limit: int = 5) -> list[str]:
    """What differs between two contents (:func:`draft_content`), German, at most ``limit`` items:
    ``"Position 2.unit_price 84.00 → 96.00"``."""
    old = _flat({**before.get("data", {}), **{k: v for k, v in before.items() if k != "data"}}, "")
    new = _flat({**after.get("data", {}), **{k: v for k, v in after.items() if k != "data"}}, "")
    out = []
    for path in sorted(set(old) | set(new)):
        if old.get(path) != new.get(path):
            head, _, rest = path.lstrip(".").partition(".")
            name, _, index = head.partition(" ")
            shown = f"{LABELS.get(name, name)}{' ' + index if index else ''}{'.' + rest if rest else ''}"
            out.append(f"{shown} {old.get(path, '–')} → {new.get(path, '–')}")
    return out[:limit] + ([f"und {len(out) - limit} weitere"] if len(out) > limit else [])
