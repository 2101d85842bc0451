"""The recipient register: who gets documents, where, and how they want them.

A recipient is found by the customer number (Personenkonto) the specialist systems put in their exports. It holds
the kind of recipient (citizen, company, public body), name and postal address, the addresses of the electronic
channels (e-mail, BundID postbox ``mailboxUuid``, ELSTER account, Leitweg-ID or Peppol participant for e-invoices),
the channels in order of preference, and the consents some channels need (e-mail delivery of invoices; retrieval
of notices by data transmission, § 41 Abs. 2a VwVfG), with the day and the source of the declaration, and the
recipient's objections (Widerspruch) to electronic notices with theirs: § 9 Abs. 1 S. 2 OZG presumes consent to
the postbox unless the user opted out, § 122a Abs. 2 AO (from 2027) lets a person ask for notices by post.
Delivery chooses the channel (``delivery.consent`` decides on the posting day); the register only makes sure
that every channel named has its address and that a date or source stands beside what it dates.

Here the register is a frozen list with a lookup; intake imports it from CSV (``intake.recipients``), the state
store persists it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import ValidationInfo, field_validator, model_validator

from ..errors import RecordError

from . import identifiers
from .delivery import Channel
from .terms import Frozen


class RecipientKind(StrEnum):
    CITIZEN = "citizen"
    COMPANY = "company"
    PUBLIC_BODY = "public_body"


class Consent(StrEnum):
    EMAIL_INVOICES = "email_invoices"  # invoices by e-mail
    NOTICE_RETRIEVAL = "notice_retrieval"  # notices for retrieval by data transmission, § 41 Abs. 2a VwVfG


class OptOut(StrEnum):
    """What an objection (Widerspruch, or the withdrawal of a consent) covers: every electronic notice, or one
    postbox only (§ 9 Abs. 1 S. 2 OZG: the user excluded the postbox; § 122a Abs. 2 AO: notices by post)."""

    NOTICE_RETRIEVAL = "notice_retrieval"  # all electronic notices (every postbox)
    BUNDID = "bundid"  # the BundID postbox only
    ELSTER = "elster"  # the ELSTER postbox only


class Recipient(Frozen):
    customer_number: str
    kind: RecipientKind = RecipientKind.CITIZEN
    name: str
    salutation: str | None = None
    street: str
    supplement: str | None = None
    post_code: str
    city: str
    country_code: str = "DE"
    email: str | None = None
    bundid_postbox: str | None = None  # BundID mailboxUuid
    elster_account: str | None = None
    leitweg_id: str | None = None
    peppol_id: str | None = None  # scheme:value, e.g. 0204:991-33333TEST-33 or 9930:DE123456789
    vat_id: str | None = None
    channels: tuple[Channel, ...] = (Channel.PRINT,)
    consents: frozenset[Consent] = frozenset()
    # the day the consents were declared (None: not recorded; they count as given before any posting) and where
    consent_date: date | None = None
    consent_source: str | None = None
    # objections to electronic notices (Widerspruch), the day they were declared (None: always in force) and where
    opt_outs: frozenset[OptOut] = frozenset()
    opt_out_date: date | None = None
    opt_out_source: str | None = None
    # SEPA direct debit (issue 15): the mandate the debtor signed, and the account it names
    sepa_mandate_id: str | None = None  # Mandatsreferenz: up to 35 characters of the SEPA character set
    sepa_mandate_date: date | None = None  # the day the mandate was signed
    iban: str | None = None
    bic: str | None = None

    @field_validator("sepa_mandate_id")
    @classmethod
    def _mandate_id(cls, v: str | None) -> str | None:
        if v is not None and not MANDATE_ID.fullmatch(v):
            raise ValueError("a SEPA mandate reference has 1-35 characters: A-Z a-z 0-9 and + ? / - : ( ) . , ' "
                             "(no space), e.g. M-2026-000117")
        return v

    @field_validator("iban", "bic")
    @classmethod
    def _bank(cls, v: str | None, info: ValidationInfo) -> str | None:
        parse = identifiers.parse_iban if info.field_name == "iban" else identifiers.parse_bic
        try:
            return None if v is None else parse(v)
        except RecordError as exc:
            raise ValueError(f"{exc.problem} ({exc.fix})") from None

    @field_validator("name", "street", "city", "customer_number")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()

    @model_validator(mode="after")
    def _channels_have_addresses(self) -> Recipient:
        for channel in self.channels:
            need = CHANNEL_ADDRESS[channel]
            if need and not any(getattr(self, field) for field in need):
                raise ValueError(f"channel {channel.value} needs {' or '.join(need)}")
        if self.sepa_mandate_id and not (self.sepa_mandate_date and self.iban):
            raise ValueError("a SEPA mandate needs its date (sepa_mandate_date) and the debtor's IBAN")
        for values, dated in (("consents", ("consent_date", "consent_source")),
                              ("opt_outs", ("opt_out_date", "opt_out_source"))):
            for field in dated:
                if getattr(self, field) is not None and not getattr(self, values):
                    raise ValueError(f"{field} without {values}: a date or source needs what it dates")
        return self

    @property
    def receives_xrechnung(self) -> bool:
        """Whether this recipient's invoices are XRechnung XML (a public body, a Leitweg-ID, a business), whose
        rules require the buyer's electronic address (BT-49). A citizen gets a PDF letter with the EN 16931 data
        embedded, where BT-49 is optional: no e-mail address is no reason to withhold the invoice."""
        return self.kind != RecipientKind.CITIZEN or bool(self.leitweg_id)

    @property
    def peppol_participant(self) -> str | None:
        """The Peppol participant id (``scheme:value``): the register's own, else ``0204:<Leitweg-ID>`` (the scheme of
        German public bodies), else ``9930:<USt-IdNr.>`` for a German company (the German VAT id's scheme)."""
        if self.peppol_id:
            return self.peppol_id
        if self.leitweg_id:
            return f"0204:{self.leitweg_id}"
        vat = (self.vat_id or "").replace(" ", "").upper()
        if self.kind is RecipientKind.COMPANY and vat.startswith("DE") and len(vat) == 11 and vat[2:].isdigit():
            return f"9930:{vat}"
        return None

    @property
    def electronic_address(self) -> tuple[str, str] | None:
        """BT-49 (value, EAS scheme): the Leitweg-ID (0204) of a public body, else the e-mail (EM)."""
        if self.leitweg_id:
            return self.leitweg_id, "0204"
        if self.email:
            return self.email, "EM"
        return None


#: A SEPA mandate reference (Mandatsreferenz): the SEPA character set without space, at most 35 characters.
MANDATE_ID = re.compile(r"[A-Za-z0-9+?/:().,'-]{1,35}")

#: The register fields a channel needs, one of them at least (print: the postal address, always there).
CHANNEL_ADDRESS: dict[Channel, tuple[str, ...]] = {
    Channel.BUNDID: ("bundid_postbox",), Channel.ELSTER: ("elster_account",), Channel.EMAIL: ("email",),
    Channel.PEPPOL: ("leitweg_id", "peppol_id"), Channel.PRINT: (),
}


@dataclass(frozen=True)
class RecipientRegister:
    """Recipients by customer number (frozen; ``with_`` gives a new register)."""

    recipients: tuple[Recipient, ...] = ()
    #: (customer number, row) of the import's rows left out for their errors: a document naming one is told
    #: where the recipient went instead of only "unknown customer number" (issue 11)
    left_out: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        index: dict[str, Recipient] = {}
        for r in self.recipients:
            if r.customer_number in index:
                raise ValueError(f"customer number {r.customer_number!r} twice in the register")
            index[r.customer_number] = r
        object.__setattr__(self, "_index", index)

    def get(self, customer_number: str) -> Recipient | None:
        return self._index.get(customer_number.strip())  # type: ignore[attr-defined]

    def left_out_row(self, customer_number: str) -> int | None:
        """The register file's row of ``customer_number`` when that row was left out for its errors."""
        return next((row for number, row in self.left_out if number == customer_number.strip()), None)

    def __contains__(self, customer_number: object) -> bool:
        return isinstance(customer_number, str) and self.get(customer_number) is not None

    def __len__(self) -> int:
        return len(self.recipients)

    def __iter__(self):
        return iter(self.recipients)

    def with_(self, *recipients: Recipient) -> RecipientRegister:
        """A register with ``recipients`` added or replacing those with the same customer number."""
        new = {r.customer_number: r for r in recipients}
        kept = tuple(r for r in self.recipients if r.customer_number not in new)
        return RecipientRegister(kept + tuple(new.values()), tuple(x for x in self.left_out if x[0] not in new))
