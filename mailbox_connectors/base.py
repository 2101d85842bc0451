"""The one interface every delivery channel implements (ports and adapters: one adapter per channel).

    connector = EmailConnector(settings)            # or FIT-Connect, BundID, ELSTER, print ...
    refusal = connector.capabilities.refusal(delivery)   # None, or why this channel cannot take it
    try:
        receipt = connector.send(delivery)          # the channel accepted it: message id, time, evidence
    except TemporaryFailure:                        # try the same channel again later
        ...
    except PermanentFailure:                        # take the next channel of the recipient
        ...
    events = connector.collect_events(since)        # delivered / retrieved / failed / delayed, with evidence

Rules every adapter keeps:

* ``send`` is idempotent per ``Delivery.delivery_id`` as far as the channel allows (the id goes to the channel
  as its idempotency key or envelope id, so that status events name it again);
* a notice (``DocumentKind.NOTICE``) is carried only by a channel whose capabilities say
  ``notices=NoticeHandling.CARRY``; a ``NOTIFY_ONLY`` channel (email) sends only a notification that the notice
  waits in a postbox, never the notice itself, and says so in ``Receipt.notification_only``;
* errors are ``TemporaryFailure`` (retry the same channel: SMTP 4xx, HTTP 5xx/429, timeouts, connection lost)
  or ``PermanentFailure`` (do not retry, take the next channel: SMTP 5xx, rejections, refused by the
  capabilities); their message is one a clerk can act on, in German; neither they nor logs hold secrets or the document;
* evidence is raw bytes kept with the receipt or event (SMTP transcript, HTTP exchange, DSN, Security Event
  Token); ``Receipt.evidence_sha256`` / ``StatusEvent.evidence_sha256`` are its digest for the audit trail.

Nothing here does I/O; adapters live beside this module, each with its sandbox under ``sandboxes/``.
"""
from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from types import TracebackType

from erechnung.errors import ErechnungError
from erechnung.model.delivery import DeliveryFormat
from erechnung.model.documents import DocumentKind

__all__ = [
    "Capabilities", "Delivery", "ServiceOrder", "DeliveryError", "EventState", "MailboxConnector", "NoticeHandling",
    "PermanentFailure", "Receipt", "StatusEvent", "TemporaryFailure", "since_filter", "size_text",
]


class NoticeHandling(StrEnum):
    CARRY = "carry"  # the channel may carry a notice itself (postbox, ELSTER, letter by post)
    NOTIFY_ONLY = "notify_only"  # only a notification that the notice waits in a postbox (email)
    NONE = "none"  # nothing to do with notices (Peppol)


class EventState(StrEnum):
    DELIVERED = "delivered"  # in the recipient's mailbox / postbox (DSN delivered, SET accept-submission)
    RETRIEVED = "retrieved"  # opened or fetched by the recipient (retrieval confirmation, MDN displayed)
    FAILED = "failed"  # will not arrive (DSN failed, SET reject-submission): take the next channel
    DELAYED = "delayed"  # not yet delivered, the channel still tries (DSN delayed)
    #: the recipient returned the Empfangsbekenntnis of a Zustellung gegen Empfangsbekenntnis (§ 5 Abs. 7 VwZG);
    #: the event's ``at`` is the date the recipient put on it (the date of service)
    ACKNOWLEDGED = "acknowledged"


def size_text(n: int) -> str:
    """A size as German readers read it: ``10 MB``, ``10,5 MB``, ``830 kB``, ``12 Byte`` (decimal units)."""
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}".rstrip("0").rstrip(".").replace(".", ",") + " MB"
    if n >= 1000:
        return f"{n / 1e3:.0f} kB"
    return f"{n} Byte"


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return at.astimezone(timezone.utc)


@dataclass(frozen=True)
class ServiceOrder:
    """A notice to be served (förmliche Zustellung, VwZG): what the channel must show and the print shop prepare.

    ``form`` is the form of service (``erechnung/config/service.toml``: zustellung_eb, zustellung_pzu,
    einschreiben_rueckschein, einschreiben), ``marking`` what the message or the envelope must say
    ("Zustellung gegen Empfangsbekenntnis", "Vermerk: Bitte mit Zustellungsurkunde zustellen"), ``reference`` the
    Aktenzeichen, ``sender`` the authority, ``addressee`` the addressee's name and postal address (lines),
    ``officer`` the official who serves (§ 5 Abs. 4 VwZG: the message names them; empty when not configured)."""

    form: str
    title: str
    paragraph: str
    marking: str
    proof: str = ""  # empfangsbekenntnis | pzu | rueckschein | "" (none)
    reference: str = ""
    sender: str = ""
    addressee: tuple[str, ...] = ()
    officer: str = ""

    def to_json(self) -> dict[str, object]:
        return {"form": self.form, "title": self.title, "paragraph": self.paragraph, "marking": self.marking,
                "proof": self.proof, "reference": self.reference, "sender": self.sender,
                "addressee": list(self.addressee), "officer": self.officer}

    @classmethod
    def from_json(cls, data: dict) -> ServiceOrder:
        return cls(**{**data, "addressee": tuple(data.get("addressee", ()))})


@dataclass(frozen=True)
class Delivery:
    """One document to one recipient on one channel.

    ``delivery_id`` is the idempotency key: the same id sent twice is the same delivery. ``address`` is the
    recipient's address on this channel: an email address, a BundID ``mailboxUuid``, an ELSTER account, or
    for letters by post the address block (lines separated by ``\\n``, as in the DIN 5008 window).
    ``sha256`` (hex) is computed from ``content`` when left empty and checked when given.
    """

    delivery_id: str
    kind: DocumentKind
    format: DeliveryFormat
    content: bytes = field(repr=False)
    filename: str
    media_type: str
    address: str = field(repr=False)
    subject: str = field(repr=False)
    body: str = field(default="", repr=False)
    sha256: str = ""
    service: ServiceOrder | None = None  # a notice to be served (förmliche Zustellung); None: an ordinary one

    def __post_init__(self) -> None:
        if not self.delivery_id or not self.delivery_id.isprintable() or len(self.delivery_id) > 100:
            raise ValueError("delivery_id must be 1-100 printable characters")
        object.__setattr__(self, "kind", DocumentKind(self.kind))
        object.__setattr__(self, "format", DeliveryFormat(self.format))
        digest = hashlib.sha256(self.content).hexdigest()
        if self.sha256 and self.sha256.lower() != digest:
            raise ValueError(f"Zustellung {self.delivery_id}: sha256 passt nicht zum Inhalt des Dokuments")
        object.__setattr__(self, "sha256", digest)
        if not self.address.strip():
            raise ValueError(f"Zustellung {self.delivery_id}: keine Empfängeradresse für den Kanal")

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class Capabilities:
    """What a channel accepts."""

    channel: str  # "email", "fit_connect", "bundid", "elster", "print"
    kinds: frozenset[DocumentKind]  # what it carries as document (NOTICE only with notices=CARRY)
    formats: frozenset[DeliveryFormat]
    max_bytes: int | None  # largest document (None: no limit of its own)
    notices: NoticeHandling

    def refusal(self, delivery: Delivery) -> str | None:
        """Why this channel cannot take ``delivery`` (a German sentence for the clerk), or None when it can."""
        if delivery.kind is DocumentKind.NOTICE:
            if self.notices is NoticeHandling.NONE:
                return f"der Kanal {self.channel} stellt keine Bescheide zu"
            if self.notices is NoticeHandling.NOTIFY_ONLY:
                return None  # the notice itself is not sent, only the notification (size and format do not apply)
        elif delivery.kind not in self.kinds:
            return f"der Kanal {self.channel} stellt keine Dokumente der Art {delivery.kind.value} zu"
        if delivery.format not in self.formats:
            allowed = ", ".join(sorted(f.value for f in self.formats))
            return f"der Kanal {self.channel} nimmt das Format {delivery.format.value} nicht an (nur {allowed})"
        if self.max_bytes is not None and delivery.size > self.max_bytes:
            return (f"das Dokument hat {size_text(delivery.size)}; der Kanal {self.channel} nimmt höchstens "
                    f"{size_text(self.max_bytes)}")
        return None


@dataclass(frozen=True)
class Receipt:
    """The channel accepted the delivery (the "sent" state). ``evidence`` is the raw exchange, secrets removed."""

    delivery_id: str
    channel: str
    channel_message_id: str  # SMTP Message-ID, FIT-Connect submission id, postbox message id, print batch/letter
    accepted_at: datetime
    evidence: bytes = field(default=b"", repr=False)
    evidence_type: str = "text/plain"
    notification_only: bool = False  # True: a notice was not carried, only notified (email)

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepted_at", _utc(self.accepted_at))

    @property
    def evidence_sha256(self) -> str:
        return hashlib.sha256(self.evidence).hexdigest()


@dataclass(frozen=True)
class StatusEvent:
    """What the channel reported after the receipt. ``event_id`` is stable: collecting twice gives the same id."""

    event_id: str
    delivery_id: str
    channel: str
    state: EventState
    at: datetime
    evidence: bytes = field(repr=False)
    evidence_type: str = "text/plain"  # message/rfc822 for a DSN, application/jwt for a SET ...
    reason: str = ""  # for the clerk, in German: "Postfach unbekannt (550 5.1.1)"

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", EventState(self.state))
        object.__setattr__(self, "at", _utc(self.at))

    @property
    def evidence_sha256(self) -> str:
        return hashlib.sha256(self.evidence).hexdigest()


class DeliveryError(ErechnungError):
    """A delivery did not go through. ``reason`` is for the clerk, in German; ``code`` the channel's own
    (``550 5.1.1``, ``HTTP 429``); ``evidence`` the raw exchange (secrets removed). The message is
    ``<channel>, Zustellung <id>: <reason> (<code>)``, what ends up in ``last_error`` and the dead letters."""

    def __init__(self, reason: str, *, channel: str, delivery_id: str | None = None, code: str | None = None,
                 evidence: bytes = b"") -> None:
        self.reason, self.channel, self.delivery_id, self.code, self.evidence = (
            reason, channel, delivery_id, code, evidence)
        where = f"{channel}" + (f", Zustellung {delivery_id}" if delivery_id else "")
        super().__init__(f"{where}: {reason}" + (f" ({code})" if code else ""))


class TemporaryFailure(DeliveryError):
    """Try the same channel again later (``retry_after`` seconds, when the channel said)."""

    def __init__(self, reason: str, *, channel: str, delivery_id: str | None = None, code: str | None = None,
                 evidence: bytes = b"", retry_after: float | None = None) -> None:
        super().__init__(reason, channel=channel, delivery_id=delivery_id, code=code, evidence=evidence)
        self.retry_after = retry_after


class PermanentFailure(DeliveryError):
    """This channel will not deliver it: take the next channel of the recipient."""


class MailboxConnector(ABC):
    """One channel. Adapters that hold a connection close it in ``close`` (also as a context manager)."""

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    def send(self, delivery: Delivery) -> Receipt:
        """Hand ``delivery`` to the channel; raises TemporaryFailure or PermanentFailure."""

    @abstractmethod
    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        """Status events the channel reported at or after ``since`` (all it still has when None), oldest first."""

    def check(self, delivery: Delivery) -> None:
        """Raise PermanentFailure when the capabilities refuse ``delivery`` (call before sending anything)."""
        refusal = self.capabilities.refusal(delivery)
        if refusal:
            raise PermanentFailure(refusal, channel=self.capabilities.channel, delivery_id=delivery.delivery_id)

    def close(self) -> None:
        """Release connections (default: nothing to release)."""

    def __enter__(self) -> MailboxConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def since_filter(events: Iterable[StatusEvent], since: datetime | None) -> list[StatusEvent]:
    """``events`` at or after ``since``, oldest first; events of the same time keep their order (a helper for
    adapters: pass them in the order the channel reported them)."""
    cut = _utc(since) if since is not None else None
    return sorted((e for e in events if cut is None or e.at >= cut), key=lambda e: e.at)
