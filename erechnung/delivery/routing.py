"""Which channels a document travels on, in which order: per recipient and document kind, from the recipient
register's preferences and consents, with the legal limits applied. Domain code: no I/O.

The order: the recipient's own preferences (``Recipient.channels``) first, then the default order of the
recipient's kind for the document kind, each channel once, and print always last:

============  ===================================  ============================
recipient     invoice / credit note                notice
============  ===================================  ============================
citizen       bundid, email, print                 bundid, print
company       email, peppol, print                 elster, print
public body   peppol, email, print                 print
============  ===================================  ============================

A channel is left out (``Route.skipped`` says why, for finance) when

* the recipient has no address for it, or no connector is configured for it (``available``);
* the document is a notice and the channel is email: a notice never travels as a plain email attachment
  (channels.md § 4); the recipient's email is kept as ``Hop.notify_email`` of a postbox hop, the notification
  that a notice waits there;
* the document is a notice and the channel is Peppol (invoices only), or ``legal.toml`` names no legal basis
  for notices on it (``notice_bases``);
* the notice's legal basis needs a consent the recipient has not given (``requires_consent``; e.g. the
  retrieval model of § 41 Abs. 2a VwVfG needs ``notice_retrieval``);
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
from typing import Any

from erechnung.model.delivery import Channel
from erechnung.model.documents import INVOICE_KINDS, DocumentKind
from erechnung.model.recipients import Consent, Recipient, RecipientKind

from .notification import LegalRules

POSTBOXES = frozenset({Channel.BUNDID, Channel.ELSTER})
INVOICE, NOTICE = DocumentKind.INVOICE, DocumentKind.NOTICE  # the two groups a route is chosen for
BUNDID, ELSTER, EMAIL, PEPPOL, PRINT = Channel.BUNDID, Channel.ELSTER, Channel.EMAIL, Channel.PEPPOL, Channel.PRINT

DEFAULT_ORDER: Mapping[RecipientKind, Mapping[DocumentKind, tuple[Channel, ...]]] = {
    RecipientKind.CITIZEN: {INVOICE: (BUNDID, EMAIL, PRINT), NOTICE: (BUNDID, PRINT)},
    RecipientKind.COMPANY: {INVOICE: (EMAIL, PEPPOL, PRINT), NOTICE: (ELSTER, PRINT)},
    RecipientKind.PUBLIC_BODY: {INVOICE: (PEPPOL, EMAIL, PRINT), NOTICE: (PRINT,)},
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
        """One line for finance: the order and why channels were left out."""
        text = " -> ".join(self.channels) or "no channel"
        if self.skipped:
            text += "; not: " + "; ".join(f"{s.channel} ({s.reason})" for s in self.skipped)
        return text


def postal_address(recipient: Recipient) -> str:
    """The address block for a letter (DIN 5008 window lines)."""
    lines = [recipient.salutation, recipient.name, recipient.supplement, recipient.street,
             f"{recipient.post_code} {recipient.city}",
             None if recipient.country_code == "DE" else recipient.country_code]
    return "\n".join(line for line in lines if line)


def _address(recipient: Recipient, channel: str) -> tuple[str, str] | None:
    """(address_ref, address) of the recipient on ``channel``, or None when there is none."""
    if channel == EMAIL:
        value = recipient.email
    elif channel == BUNDID:
        value = recipient.bundid_postbox
    elif channel == ELSTER:
        value = recipient.elster_account
    elif channel == PEPPOL:
        value = recipient.peppol_id or (f"0204:{recipient.leitweg_id}" if recipient.leitweg_id else None)
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
          formats: Mapping[str, frozenset[str]] | None = None, document_format: str | None = None) -> Route:
    """The channels for a document of ``kind`` (invoice, credit_note, notice) and ``size`` bytes to
    ``recipient``, in order, with those left out and why (see the module docstring)."""
    group = _kind_group(kind)
    rules = rules or LegalRules.load()
    available = None if available is None else frozenset(available)
    limits = limits or {}
    order: list[str] = []
    for channel in [c.value if isinstance(c, Channel) else str(c) for c in recipient.channels] + list(
            DEFAULT_ORDER[recipient.kind][group]):
        if channel != PRINT and channel not in order:
            order.append(channel)
    order.append(PRINT)
    consents = {c.value if isinstance(c, Consent) else str(c) for c in recipient.consents}
    hops: list[Hop] = []
    skipped: list[Skipped] = []
    for channel in order:
        reason = None
        basis = None
        addressed = _address(recipient, channel)
        if group == NOTICE and channel == EMAIL:
            reason = ("a notice never travels as a plain email attachment; email only tells that it waits in a "
                      "postbox")
        elif group == NOTICE and channel == PEPPOL:
            reason = "Peppol carries invoices, not notices"
        elif addressed is None:
            reason = f"no {channel} address in the recipient register"
        elif available is not None and channel not in available:
            reason = f"no {channel} connector is configured"
        elif group == NOTICE:
            basis = rules.basis_for(channel, notice_group)
            if basis is None:
                reason = f"legal.toml names no legal basis for notices on {channel} (notice_bases.{notice_group})"
            else:
                missing = [c for c in rules.rule(basis).requires_consent if c not in consents]
                if missing:
                    reason = f"{rules.rule(basis).title} needs the recipient's consent ({', '.join(missing)})"
        elif channel == EMAIL and recipient.kind is RecipientKind.CITIZEN \
                and Consent.EMAIL_INVOICES.value not in consents:
            reason = "a citizen gets invoices by email only with consent (email_invoices)"
        elif channel in POSTBOXES - {BUNDID}:
            reason = f"the {channel} postbox carries notices, not invoices"
        elif recipient.kind is RecipientKind.PUBLIC_BODY and channel in (EMAIL, PEPPOL) \
                and not recipient.leitweg_id:
            reason = "an invoice to a public body needs its Leitweg-ID (BR-DE-15)"
        takes = (formats or {}).get(channel)
        if reason is None and document_format and takes is not None and document_format not in takes:
            reason = (f"{channel} does not take the document's format {document_format} "
                      f"(only {', '.join(sorted(takes))})")
        if reason is None and size is not None and limits.get(channel) is not None and size > limits[channel]:
            from mailbox_connectors.base import size_text

            reason = f"the document has {size_text(size)}; {channel} takes at most {size_text(limits[channel])}"
        if reason is not None:
            skipped.append(Skipped(channel, reason))
            continue
        assert addressed is not None
        notify = recipient.email if group == NOTICE and channel in POSTBOXES else None
        hops.append(Hop(channel, addressed[0], addressed[1], basis, notify))
    return Route(tuple(hops), tuple(skipped))
