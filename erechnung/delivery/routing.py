"""Which channels a document travels on, in which order: per recipient and document kind, from the recipient
register's preferences and consents, with the legal limits applied. Domain code: no I/O.

The order: the recipient's own preferences (``Recipient.channels``) first, then the default order of the
recipient's kind for the document kind, each channel once, and print always last:

============  ===================================  ============================
recipient     invoice / credit note                notice
============  ===================================  ============================
citizen       bundid, email, print                 bundid, print
company       peppol, email, print                 elster, bundid, print
public body   peppol, portal, email, print         print
============  ===================================  ============================

Peppol's address is the register's ``peppol_id``, else ``0204:<Leitweg-ID>`` for a public body and
``9930:<USt-IdNr.>`` for a German company. Whether the participant is registered for the document type is known
only from the SML and its SMP: the Peppol adapter asks them before it sends, and a participant that cannot receive
the document type fails that hop permanently, so that the next one (the portal, the e-mail) takes over.

``portal`` is the invoice portal of a public body (``[[delivery.portals]]``: by Leitweg-ID prefix or customer
number): a hop on the e-mail channel to the portal's address (``address_ref`` ``portal:<name>``), one invoice per
mail, within the portal's size limit. A company's notice goes to its BundID organisation postbox when it has no
ELSTER account but a BundID postbox in the register.

A channel is left out (``Route.skipped`` says why, for finance, in German: ``texts.SKIP``) when

* the recipient has no address for it, or no connector is configured for it (``available``);
* the document is a notice and the channel is email: a notice never travels as a plain email attachment
  (channels.md § 4); the recipient's email is kept as ``Hop.notify_email`` of a postbox hop, the notification
  that a notice waits there;
* the document is a notice and the channel is Peppol (invoices only), or ``legal.toml`` names no legal basis
  for notices on it (``notice_bases``);
* the consent model of the notice's legal basis in force on the planned posting day (``consent.toml``, decided by
  :meth:`consent.ConsentRules.decide`; the day is passed in, never today) keeps it off the channel: § 9 Abs. 1 S. 2
  OZG presumes consent to the BundID postbox unless the recipient objected; § 41 Abs. 2a VwVfG and § 122a AO
  until 2026-12-31 need a consent recorded on or before that day; the reason names the paragraph;
* an invoice would go by email to a citizen without the ``email_invoices`` consent (businesses must accept
  e-invoices since 2025, public bodies receive them with their Leitweg-ID);
* an invoice to a public body has no Leitweg-ID (BR-DE-15: it is the buyer reference);
* the document is larger than the channel takes (``limits``, from the connectors' capabilities);
* the channel does not take the document's format (``formats``: an XRechnung XML cannot be printed as a letter;
  a public body without Peppol then needs a channel set up, which the dead letter tells finance).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from erechnung.config.channels import Portal
from erechnung.model.delivery import Channel
from erechnung.model.documents import INVOICE_KINDS, DocumentKind
from erechnung.model.recipients import Consent, Recipient, RecipientKind

from .consent import ConsentRules
from .notification import LegalRules
from .texts import ROUTE, SKIP

POSTBOXES = frozenset({Channel.BUNDID, Channel.ELSTER})
INVOICE, NOTICE = DocumentKind.INVOICE, DocumentKind.NOTICE  # the two groups a route is chosen for
BUNDID, ELSTER, EMAIL, PEPPOL, PRINT = Channel.BUNDID, Channel.ELSTER, Channel.EMAIL, Channel.PEPPOL, Channel.PRINT
#: a step of the order, not a channel: the public body's invoice portal, reached on the e-mail channel
PORTAL = "portal"

DEFAULT_ORDER: Mapping[RecipientKind, Mapping[DocumentKind, tuple[str, ...]]] = {
    RecipientKind.CITIZEN: {INVOICE: (BUNDID, EMAIL, PRINT), NOTICE: (BUNDID, PRINT)},
    RecipientKind.COMPANY: {INVOICE: (PEPPOL, EMAIL, PRINT), NOTICE: (ELSTER, BUNDID, PRINT)},
    RecipientKind.PUBLIC_BODY: {INVOICE: (PEPPOL, PORTAL, EMAIL, PRINT), NOTICE: (PRINT,)},
}


@dataclass(frozen=True)
class Hop:
    """One channel of a route: where the document goes on it, and under which legal basis (notices)."""

    channel: str
    address_ref: str  # "email:anna@example.org", "bundid:<mailboxUuid>", "print:<customer number>"
    address: str  # what the channel gets (for print the address block, lines separated by \n)
    legal_basis: str | None = None
    notify_email: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "address_ref": self.address_ref, "address": self.address,
                "legal_basis": self.legal_basis, "notify_email": self.notify_email}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hop:
        return cls(**{k: data.get(k) for k in ("channel", "address_ref", "address", "legal_basis", "notify_email")})


@dataclass(frozen=True)
class Skipped:
    channel: str
    reason: str


@dataclass(frozen=True)
class Route:
    hops: tuple[Hop, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(h.channel for h in self.hops)

    def explain(self) -> str:
        """One line for finance, in German: the order and why channels were left out (a portal hop: ``Portal
        <name> (email)``)."""
        text = " -> ".join(ROUTE["portal_hop"].format(portal=h.address_ref.split(':', 1)[1], channel=h.channel)
                           if h.address_ref.startswith(f"{PORTAL}:") else h.channel for h in self.hops)
        if self.skipped:
            return (f"{text}; " if text else "") + self.left_out()
        return text or ROUTE["no_channel"]

    def left_out(self) -> str:
        """The channels left out and why: ``ausgelassen: peppol (...); email (...)`` (empty: none)."""
        if not self.skipped:
            return ""
        return f"{ROUTE['left_out']}: " + "; ".join(f"{s.channel} ({s.reason})" for s in self.skipped)


def postal_address(recipient: Recipient) -> str:
    """The address block for a letter (DIN 5008 window lines)."""
    lines = [recipient.salutation, recipient.name, recipient.supplement, recipient.street,
             f"{recipient.post_code} {recipient.city}",
             None if recipient.country_code == "DE" else recipient.country_code]
    return "\n".join(line for line in lines if line)


def portal_of(recipient: Recipient, portals: Iterable[Portal]) -> Portal | None:
    """The first portal of the directory that serves the public body ``recipient`` (None: none does)."""
    if recipient.kind is not RecipientKind.PUBLIC_BODY:
        return None
    return next((p for p in portals if p.serves(recipient.customer_number, recipient.leitweg_id)), None)


def _address(recipient: Recipient, channel: str) -> tuple[str, str] | None:
    """(address_ref, address) of the recipient on ``channel``, or None when there is none."""
    if channel == EMAIL:
        value = recipient.email
    elif channel == BUNDID:
        value = recipient.bundid_postbox
    elif channel == ELSTER:
        value = recipient.elster_account
    elif channel == PEPPOL:
        value = recipient.peppol_participant
    elif channel == PRINT:
        return f"print:{recipient.customer_number}", postal_address(recipient)
    else:
        return None
    return (f"{channel}:{value}", value) if value else None


def _kind_group(kind: str) -> DocumentKind:
    if kind in INVOICE_KINDS:
        return INVOICE
    if kind == NOTICE:
        return NOTICE
    raise ValueError(f"no route for documents of kind {kind!r}")


def route(recipient: Recipient, kind: str, *, size: int | None = None,
          limits: Mapping[str, int | None] | None = None, available: Iterable[str] | None = None,
          rules: LegalRules | None = None, notice_group: str = "default",
          formats: Mapping[str, frozenset[str]] | None = None, document_format: str | None = None,
          portals: Iterable[Portal] = (), posting_day: date | None = None,
          consent: ConsentRules | None = None, land: str | None = None) -> Route:
    """The channels for a document of ``kind`` (invoice, credit_note, notice) and ``size`` bytes to
    ``recipient``, in order, with those left out and why (see the module docstring). A notice needs
    ``posting_day``, the planned day of posting (Europe/Berlin), whose consent model applies (``consent``, in
    ``land``: the Land's override)."""
    group = _kind_group(kind)
    if group == NOTICE and posting_day is None:
        raise ValueError("routing a notice needs its planned posting day (posting_day): the consent model in "
                         "force on that day decides, never today's")
    rules = rules or LegalRules.load()
    consent = consent or ConsentRules.load()
    available = None if available is None else frozenset(available)
    limits = limits or {}
    order: list[str] = []
    for channel in [c.value if isinstance(c, Channel) else str(c) for c in recipient.channels] + list(
            DEFAULT_ORDER[recipient.kind][group]):
        if channel != PRINT and channel not in order:
            order.append(channel)
    if PORTAL in order and PEPPOL in order:  # the portal stands in for Peppol: right after it
        order.remove(PORTAL)
        order.insert(order.index(PEPPOL) + 1, PORTAL)
    order.append(PRINT)
    consents = {c.value if isinstance(c, Consent) else str(c) for c in recipient.consents}
    hops: list[Hop] = []
    skipped: list[Skipped] = []
    for channel in order:
        reason = None
        basis = None
        if channel == PORTAL:
            hop, why = _portal_hop(recipient, group, portals, size=size, available=available, formats=formats,
                                   document_format=document_format, limit=limits.get(EMAIL))
            if hop is None:
                if why:
                    skipped.append(Skipped(PORTAL, why))
            else:
                hops.append(hop)
            continue
        addressed = _address(recipient, channel)
        if group == NOTICE and channel == EMAIL:
            reason = SKIP["notice_by_email"]
        elif group == NOTICE and channel == PEPPOL:
            reason = SKIP["notice_by_peppol"]
        elif addressed is None:
            reason = SKIP["no_address"].format(channel=channel)
        elif available is not None and channel not in available:
            reason = SKIP["not_configured"].format(channel=channel)
        elif group == NOTICE:
            basis = rules.basis_for(channel, notice_group)
            if basis is None:
                reason = SKIP["no_legal_basis"].format(channel=channel, group=notice_group)
            else:
                assert posting_day is not None
                reason = consent.decide(basis, recipient, posting_day, channel=channel, land=land).reason
        elif channel == EMAIL and recipient.kind is RecipientKind.CITIZEN \
                and Consent.EMAIL_INVOICES.value not in consents:
            reason = SKIP["citizen_email_invoice"]
        elif channel in POSTBOXES - {BUNDID}:
            reason = SKIP["postbox_invoice"].format(channel=channel)
        elif recipient.kind is RecipientKind.PUBLIC_BODY and channel in (EMAIL, PEPPOL) \
                and not recipient.leitweg_id:
            reason = SKIP["no_leitweg_id"]
        takes = (formats or {}).get(channel)
        if reason is None and document_format and takes is not None and document_format not in takes:
            reason = SKIP["format"].format(channel=channel, format=document_format, allowed=", ".join(sorted(takes)))
        if reason is None and size is not None and limits.get(channel) is not None and size > limits[channel]:
            from mailbox_connectors.base import size_text

            reason = SKIP["size"].format(size=size_text(size), channel=channel, limit=size_text(limits[channel]))
        if reason is not None:
            skipped.append(Skipped(channel, reason))
            continue
        assert addressed is not None
        notify = recipient.email if group == NOTICE and channel in POSTBOXES else None
        hops.append(Hop(channel, addressed[0], addressed[1], basis, notify))
    return Route(tuple(hops), tuple(skipped))


def _portal_hop(recipient: Recipient, group: DocumentKind, portals: Iterable[Portal], *, size: int | None,
                available: frozenset[str] | None, formats: Mapping[str, frozenset[str]] | None,
                document_format: str | None, limit: int | None) -> tuple[Hop | None, str | None]:
    """The e-mail hop to the public body's portal, or why there is none (None: no portal step for this document)."""
    if group != INVOICE:
        return None, None
    portal = portal_of(recipient, portals)
    if portal is None:
        return None, SKIP["no_portal"]
    if not recipient.leitweg_id:
        return None, SKIP["portal_leitweg_id"].format(portal=portal.name)
    if available is not None and EMAIL not in available:
        return None, SKIP["portal_no_email"].format(portal=portal.name)
    takes = (formats or {}).get(EMAIL)
    if document_format and takes is not None and document_format not in takes:
        return None, SKIP["portal_format"].format(format=document_format)
    most = min((m for m in (portal.max_bytes, limit) if m is not None), default=None)
    if size is not None and most is not None and size > most:
        from mailbox_connectors.base import size_text

        return None, SKIP["portal_size"].format(size=size_text(size), portal=portal.name, limit=size_text(most))
    return Hop(EMAIL, f"{PORTAL}:{portal.name}", portal.email), None
