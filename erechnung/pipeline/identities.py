"""The business identities of a chunk's drafts (issue 11, :mod:`erechnung.intake.identity`): what becomes of a
record that became a document before.

* Its identity is new: it is built (and its identity recorded with its document).
* Made before, unchanged: nothing is built; its rows are recorded with that document and the report says
  "bereits erzeugt als ...".
* Twice in the delivery: the first is built, the others are quarantined.
* Made before, changed: by the profile's ``[identity] on_change``

  ``"report"``  nothing is built; its rows are quarantined with what differs and how to correct it.
  ``"correct"`` the correction is built: for an invoice a credit note (BT-3 ``381``) that cancels the invoice
                made before in full and names it (BG-3: BT-25, BT-26), and the changed record as a new invoice
                that says which one it replaces; for a notice an Änderungsbescheid that names the notice it
                changes (``Notice.amends``) and takes its place. Both parts of an invoice's correction are made
                or neither (a credit note alone would refund, a new invoice alone would bill twice). The report
                has a note per row with the numbers, and ``document_corrections`` keeps the trail.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Sequence

from ..intake import RecordError
from ..intake.errors_report import NOTE
from ..intake.identity import business_identity, changes, content_sha256, draft_content
from ..state.repository import (KnownIdentity, known_identities, record_correction, record_identities, record_notes,
                                record_skipped, revisions)

#: What to do when a document made before arrives changed and the profile does not correct it, by kind.
CORRECTION_FIX = {
    "invoice": "ist {number} falsch, liefern Sie eine Gutschrift zu {number} (Belegart Gutschrift, ursprüngliche "
               "Rechnung {number}) und die richtige Rechnung als neuen Beleg (neue Rechnungsnummer bzw. neues "
               "Rechnungsdatum), oder lassen Sie die Korrektur erzeugen ([identity] on_change = \"correct\" im "
               "Mapping-Profil); sonst ist nichts zu tun",
    "credit_note": "ist {number} falsch, liefern Sie die Korrektur als neuen Beleg (neue Nummer bzw. neues "
                   "Datum); sonst ist nichts zu tun",
    "notice": "ist {number} falsch, liefern Sie einen Änderungsbescheid als neuen Bescheid (mit dem Datum der "
              "Änderung als Bescheiddatum und einem Hinweis auf {number} in der Begründung), oder lassen Sie ihn "
              "erzeugen ([identity] on_change = \"correct\" im Mapping-Profil); sonst ist nichts zu tun",
}
#: The suffix of a correction's own numbers where the department numbers its documents itself (revision n).
SUFFIX = {"credit_note": "-S{n}", "invoice": "-K{n}", "notice": "-A{n}"}


@dataclass(frozen=True)
class Correction:
    """One changed record corrected: the identity, its revision, the document it replaces and the parts."""

    original: Any  # the draft as delivered
    identity: str
    revision: int
    first: KnownIdentity
    replaced: str  # the replaced document as the report names it
    sha: str
    content: dict[str, Any]
    changed: tuple[str, ...]
    document_key: str  # draft key of the new invoice / the Änderungsbescheid
    credit_key: str | None  # draft key of the credit note (invoices)
    parts: dict[str, Any]  # the drafts as made, for ``document_corrections.parts`` (see :func:`part_drafts`)


def finished_identity(invoice, kind: str) -> tuple[str, str, dict[str, Any]]:
    """A finished invoice's identity (kind, BT-1 number, BT-2 date), the sha256 of its content and the content
    (the invoice as data, without the number), as ``record_identities`` and ``changes`` take them."""
    content = {"kind": kind, "data": invoice.model_dump(mode="json", exclude={"number"})}
    text = f"kind={kind}|number={invoice.number}|issue_date={invoice.issue_date.isoformat()}"[:500]
    return text, content_sha256(content), content


#: What of a correction's draft is stored to build it again; the rest (recipient, rows) is the delivered draft's.
_STORED = ("kind", "notice_type", "number", "invoice", "notice")
#: Dates of a draft's data that the builder takes as dates (the rest it reads from text itself).
_DATES = ("issue_date", "due_date", "delivery_date")


def _stored(draft) -> dict[str, Any]:
    return json.loads(json.dumps({k: getattr(draft, k) for k in _STORED}, default=str))


def part_drafts(parts: dict[str, Any], original) -> dict[str, Any]:
    """A correction's drafts again (part key -> draft) from ``document_corrections.parts`` and the delivered
    draft they were made from, as ``pipeline.rebuild`` needs them when the work area lost their models."""
    out = {}
    for key, stored in (parts.get("drafts") or {}).items():
        update = dict(stored, key=key)
        for name in ("invoice", "notice"):
            if update.get(name):
                update[name] = {k: (_day(v) if k in _DATES and v is not None else v) for k, v in update[name].items()}
        out[key] = original.model_copy(update=update)
    return out


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


class ChunkIdentities:
    """The identities of one chunk's drafts. ``resolve`` says what to build for a draft, ``record`` records what
    was made. ``quarantine(rows, errors, key)`` puts rows into quarantine (the pipeline's)."""

    def __init__(self, s, department: str, profile, batch_id: int, drafts: Sequence[Any], *, today: date,
                 quarantine: Callable[[Sequence[int], Sequence[RecordError], str], None]) -> None:
        self.s, self.department, self.batch_id, self.today = s, department, batch_id, today
        self.rule, self.quarantine = profile.identity, quarantine
        self.of: dict[str, tuple[str | None, dict[str, Any], str]] = {}  # draft key -> (identity, content, sha)
        for d in drafts:
            content = draft_content(d)
            self.of[d.key] = (business_identity(d, profile.identity, grouped=bool(profile.group_by)), content,
                              content_sha256(content))
        wanted = [i for i, _, _ in self.of.values() if i]
        self.known = known_identities(s, department, wanted)
        self.revisions = revisions(s, department, [i for i in wanted if i in self.known]) if self.known else {}
        self.pending: dict[str, str] = {}  # identity -> key of the draft of this chunk that has it
        self.corrections: dict[str, Correction] = {}  # part's draft key -> its correction
        self.credit_notes: set[str] = set()  # draft keys of credit notes a correction made (no rows of their own)

    # ------------------------------------------------------------------------------------------- deciding

    def resolve(self, draft) -> list:
        """The drafts to build for ``draft``: ``[draft]``, none, or a correction's parts (see the module)."""
        identity, content, sha = self.of[draft.key]
        if identity is None:
            return [draft]
        first, row = self.known.get(identity), min(draft.rows)
        if identity not in self.pending:
            self.pending[identity] = draft.key
            if first is None:
                return [draft]
        else:
            self._refuse(draft, RecordError(
                batch=draft.batch, value=draft.key,
                problem=f"derselbe Beleg steht mehrfach in der Lieferung (wie {self.pending[identity]}); "
                        "nur der erste wurde erstellt",
                fix="liefern Sie jeden Beleg nur einmal; gehören die Zeilen zum selben Beleg, geben Sie ihnen "
                    "dieselbe Belegnummer bzw. dasselbe Kassenzeichen"))
            return []
        assert first is not None
        number = self._name(first)
        made = first.created_at.astimezone().strftime("%d.%m.%Y")
        if first.content_sha256 == sha:
            record_skipped(self.s, self.batch_id, draft.rows, first.document_id, [RecordError(
                batch=draft.batch, row=row, value=draft.key,
                problem=f"bereits erzeugt als {number} am {made}; unverändert, daher nicht noch einmal erstellt",
                fix=f"{NOTE}: der Beleg wird nicht doppelt erstellt, versandt oder abgebucht")])
            return []
        changed = tuple(changes(first.content, content))
        if self.rule.on_change == "correct" and draft.kind in ("invoice", "notice") \
                and first.content.get("kind") == draft.kind:
            return self._correct(draft, identity, first, number, sha, content, changed)
        self._refuse(draft, RecordError(
            batch=draft.batch, value=draft.key,
            problem=f"geändert gegenüber {number} (erzeugt am {made}): " + "; ".join(changed)
                    + f"; nicht noch einmal erstellt, {number} gilt unverändert",
            fix=CORRECTION_FIX[draft.kind].format(number=number)))
        return []

    @staticmethod
    def _reference(first: KnownIdentity) -> str | None:
        """How the document made before is cited: its number, else its Kassenzeichen or file number."""
        data = first.content.get("data") or {}
        return first.number or data.get("kassenzeichen") or data.get("file_number")

    def _name(self, first: KnownIdentity) -> str:
        """The document made before as the report names it: its number, else its Kassenzeichen and the
        document's number in erechnung (``erechnung documents``)."""
        if first.number:
            return first.number
        reference = self._reference(first)
        return f"Kassenzeichen {reference} (Nr. {first.document_id})" if reference else f"Nr. {first.document_id}"

    def _correct(self, draft, identity: str, first: KnownIdentity, replaced: str, sha: str,
                 content: dict[str, Any], changed: tuple[str, ...]) -> list:
        n = self.revisions.get(identity, 0) + 1
        before = first.content.get("data") or {}
        before_date = _day(before.get("issue_date"))
        shown = replaced + (f" vom {before_date:%d.%m.%Y}" if before_date else "")

        def number(kind: str) -> str | None:  # the range's next, or the department's own with a suffix
            return None if draft.number is None else draft.number + SUFFIX[kind].format(n=n)

        def dated(data: dict[str, Any]) -> dict[str, Any]:
            """The new document is issued today; a due date given keeps its distance from the issue date."""
            issued, due = _day(data.get("issue_date")), _day(data.get("due_date"))
            moved = {**data, "issue_date": self.today}
            if issued is not None and due is not None and due >= issued:
                moved["due_date"] = self.today + (due - issued)
            return moved

        parts = []
        if draft.kind == "notice":
            notice = {**dated(draft.notice), "amends": {"number": self._reference(first) or replaced, "issue_date": before_date or draft.notice.get(
                "issue_date")}}
            new = draft.model_copy(update={"key": f"{draft.key} (Änderung {n})", "number": number("notice"),
                                           "notice": notice})
            parts.append(new)
            credit_key = None
        else:
            invoice = {**dated(draft.invoice), "notes": [*(draft.invoice.get("notes") or []),
                                                  f"Diese Rechnung ersetzt die Rechnung {shown}; jene wird mit einer "
                                                  "Gutschrift vollständig storniert."]}
            new = draft.model_copy(update={"key": f"{draft.key} (Berichtigung {n})", "number": number("invoice"),
                                           "invoice": invoice})
            cancelled = {**before, "type_code": "381", "issue_date": self.today, "due_date": self.today,
                         "direct_debit": None, "payment_terms": None,
                         "preceding_invoices": [(replaced, before_date)],
                         "notes": [*(before.get("notes") or []),
                                   f"Diese Gutschrift storniert die Rechnung {shown} vollständig; die berichtigte "
                                   "Rechnung folgt gesondert."]}
            credit = draft.model_copy(update={"key": f"{draft.key} (Gutschrift {n})", "kind": "credit_note",
                                              "number": number("credit_note"), "invoice": cancelled,
                                              "notice_type": None})
            parts += [new, credit]
            credit_key = credit.key
            self.credit_notes.add(credit.key)
        correction = Correction(draft, identity, n, first, replaced, sha, content, changed, new.key, credit_key,
                                {"original": draft.key, "drafts": {p.key: _stored(p) for p in parts}})
        for part in parts:
            self.corrections[part.key] = correction
        return parts

    def _refuse(self, draft, error: RecordError) -> None:
        """The draft's rows quarantined, each with the reason itself (no row waits for another to be fixed)."""
        self.quarantine(draft.rows, [error.at(row=r) for r in sorted(set(draft.rows))], draft.key)

    # ------------------------------------------------------------------------------------------- parts

    def rows_of(self, draft) -> list[tuple[int, int]]:
        """The batch rows a new document stands for: none for a correction's credit note (the rows are the new
        invoice's), else the draft's."""
        return [] if draft.key in self.credit_notes else [(r, r) for r in sorted(set(draft.rows))]

    def partners(self, draft) -> tuple[str, ...]:
        """The draft keys that stand or fall with ``draft`` (a correction's parts), ``draft``'s own included."""
        c = self.corrections.get(draft.key)
        if c is None:
            return (draft.key,)
        return tuple(k for k in (c.document_key, c.credit_key) if k)

    def refused(self, draft, errors: Sequence[RecordError]) -> None:
        """A draft the builder refused: a correction's part takes the delivered rows with it."""
        c = self.corrections.get(draft.key)
        if c is None:
            self.quarantine(draft.rows, errors, draft.key)
            return
        what = "die Gutschrift" if draft.key == c.credit_key else "der berichtigte Beleg"
        self.quarantine(c.original.rows, [RecordError(
            batch=e.batch, row=e.row, column=e.column, value=e.value, fix=e.fix,
            problem=f"Korrektur von {c.replaced}: {what} lässt sich nicht erstellen: {e.problem}; nichts wurde "
                    f"erstellt, {c.replaced} gilt unverändert") for e in errors], c.original.key)

    # ------------------------------------------------------------------------------------------- recording

    def record(self, made: dict[str, tuple[int, str | None]]) -> None:
        """What this chunk made (draft key -> (document id, number)): new identities recorded, corrections'
        identities moved on with their trail and their notes for the report."""
        entries = []
        for key, (identity, content, sha) in self.of.items():
            if identity is not None and key in made:
                entries.append((identity, made[key][0], sha, content))
        record_identities(self.s, self.department, entries)
        for c in {c.document_key: c for c in self.corrections.values()}.values():
            if c.document_key not in made:
                continue
            document_id, number = made[c.document_key]
            credit = made.get(c.credit_key) if c.credit_key else None
            record_correction(self.s, self.department, c.identity, revision=c.revision,
                              replaced=c.first.document_id, credit_note=credit[0] if credit else None,
                              document=document_id, content_sha256=c.sha, content=c.content, parts=c.parts)
            if credit is not None:
                done = (f"Gutschrift {credit[1]} storniert {c.replaced}, die berichtigte Rechnung ist "
                        f"{number}")
            else:
                done = f"Änderungsbescheid {number or ''} zu {c.replaced} erstellt".replace("  ", " ")
            record_notes(self.s, self.batch_id, [RecordError(
                batch=c.original.batch, row=r, value=c.original.key,
                problem=f"geändert gegenüber {c.replaced}: " + "; ".join(c.changed) + f"; berichtigt: {done}",
                fix=f"{NOTE}: die Belege werden versandt; was auf {c.replaced} schon gezahlt oder abgebucht ist, "
                    "verrechnet oder erstattet die Kasse") for r in sorted(set(c.original.rows))])
