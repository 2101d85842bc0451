"""The ``[delivery]`` section of the configuration: which channels the municipality uses and how to reach them,
the retry policy, and the inputs of the legal dates. Data only (no I/O): ``erechnung.entrypoints.wiring``
turns it into connectors (each channel's entry in ``mailbox_connectors.registry`` names its table's class here),
``delivery.config.delivery_config`` into the service's ``DeliveryConfig``. The legal dates' rules are data beside
it (``legal.toml``, read by ``delivery.notification``); the Land and the notice group named here are checked
against them when the configuration is loaded.

Secrets are never written here: each channel names an environment variable or a file to read them from
(``password_env`` / ``password_file``, ``client_secret_env`` / ``client_secret_file``, ``api_token_env`` /
``api_token_file``). Relative paths are relative to the configuration file.

    [delivery]
    land = "NW"                            # the authority's Land: holidays and Land rules of the legal dates
    include = "var/sandbox/delivery.toml"  # more channel sections from another file (e.g. `erechnung sandbox`)

    [delivery.email]
    host = "smtp.musterstadt.example"
    sender = "rechnung@musterstadt.example"
    username = "erechnung"                 # password from ERECHNUNG_SMTP_PASSWORD or password_file

    [delivery.bundid]                      # the citizen's postbox, through the FIT-Connect bridge or ZBP direct
    via = "fitconnect"
    sender = "Stadt Musterstadt"
    ...
"""
from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..model.codes import LANDS
from .problems import Strict, custom

#: The legal dates' rules (format: the file's header), ``delivery.notification.LegalRules``' default.
LEGAL_RULES = Path(__file__).resolve().with_name("legal.toml")


@lru_cache(maxsize=1)
def notice_groups() -> tuple[str, ...]:
    """The groups of ``[notice_bases.<group>]`` in ``legal.toml``: what ``notice_group`` may name."""
    with open(LEGAL_RULES, "rb") as fh:
        return tuple(tomllib.load(fh).get("notice_bases", {}))


class Retry(Strict):
    """Exponential backoff with jitter (``delivery.config.RetryPolicy``): attempt n waits base * 2**(n-1), at most
    cap."""

    base_seconds: float = Field(60, gt=0)
    cap_seconds: float = Field(6 * 3600, gt=0)
    max_attempts: int = Field(5, ge=1, le=50)
    jitter: float = Field(0.5, ge=0, le=1)


class EmailChannel(Strict):
    host: str
    port: int = Field(587, ge=1, le=65535)
    sender: str  # envelope sender and From: (the bounce mailbox belongs to it)
    sender_name: str = ""
    reply_to: str | None = None
    username: str | None = None  # None: no AUTH
    password_env: str | None = "ERECHNUNG_SMTP_PASSWORD"
    password_file: str | None = None
    ca_file: str | None = None  # None: the system's CAs
    require_tls: bool = True
    timeout_seconds: float = Field(30, gt=0)
    max_bytes: int | None = Field(None, gt=0)
    request_dsn: bool = True
    bounce_maildir: str | None = None  # where the delivery reports (RFC 3464) to the sender arrive


class FitConnect(Strict):
    submission_url: str
    token_url: str
    client_id: str
    client_secret_env: str | None = "ERECHNUNG_FITCONNECT_CLIENT_SECRET"
    client_secret_file: str | None = None
    trust_roots: str  # PEM file: the roots the destinations' keys and event tokens chain to
    tls_ca: str | None = None  # PEM file for TLS; None: the system's CAs
    timeout_seconds: float = Field(30, gt=0)


class Zbp(Strict):
    base_url: str  # the ZBP REST base (without /v6)
    client_cert: str  # PEM: the BPKI certificate (mTLS and signatures)
    client_key: str  # PEM: its key (a file only the service account reads)
    tls_ca: str | None = None


class BundIdChannel(Strict):
    via: Literal["fitconnect", "zbp"] = "fitconnect"
    sender: str = Field(min_length=1, max_length=255)
    service: str | None = Field(None, max_length=255)
    retrieval_confirmation_address: str | None = None
    confirmations_maildir: str | None = None  # the inbox behind retrieval_confirmation_address
    max_bytes: int | None = Field(None, gt=0)
    fitconnect: FitConnect | None = None  # via = "fitconnect"
    bridge_destination_id: str | None = None
    author_cert: str | None = None  # PEM: the municipality's BPKI author certificate (via fitconnect)
    author_key: str | None = None
    zbp: Zbp | None = None  # via = "zbp"

    @model_validator(mode="after")
    def _route_complete(self) -> BundIdChannel:
        if self.via == "fitconnect":
            missing = [k for k in ("fitconnect", "bridge_destination_id", "author_cert", "author_key")
                       if getattr(self, k) is None]
            if missing:
                raise ValueError(f"via = \"fitconnect\" braucht auch {', '.join(missing)} (Zustellung über die "
                                 "FIT-Connect-Brücke)")
        elif self.zbp is None:
            raise ValueError("via = \"zbp\" braucht eine Tabelle [delivery.bundid.zbp] (base_url, client_cert, "
                             "client_key)")
        return self


class ElsterChannel(Strict):
    base_url: str  # ELSTER-Transfer's local REST base
    api_token_env: str | None = "ERECHNUNG_ELSTER_TOKEN"
    api_token_file: str | None = None
    tls_ca: str | None = None
    timeout_seconds: float = Field(60, gt=0)
    max_bytes: int | None = Field(None, gt=0)


class PeppolChannel(Strict):
    """Peppol eDelivery through the municipality's own access point (or a provider's AP speaking AS4 to us).

    ``sml_zone`` is the network's SML DNS zone (production and test zones differ and have moved: set it, it is
    not built in); ``sender_id`` the participant id the municipality sends as (``9930:<USt-IdNr.>`` or
    ``0204:<Leitweg-ID>``); ``ap_seat`` the CN of the AP certificate (``PDE000123``); ``trust`` a PEM file with the
    Peppol root and its AP and SMP CAs; ``mls_inbox`` the folder where Message Level Status answers arrive."""

    sml_zone: str = Field(min_length=3, max_length=253, pattern=r"^[A-Za-z0-9.-]+$")
    nameservers: list[str] = Field(default_factory=list)  # "host:port"; empty: the system's resolver
    sender_id: str = Field(pattern=r"^(iso6523-actorid-upis::)?\d{4}:\S{1,135}$")
    ap_seat: str = Field(min_length=1, max_length=64)
    ap_cert: str  # PEM: our AP certificate (with its chain)
    ap_key: str  # PEM: its key (a file only the service account reads)
    trust: str  # PEM: the Peppol root and its issuing CAs
    ap_ca_name: str = "PEPPOL ACCESS POINT CA - G2"  # the CA every AP certificate must be issued by
    smp_ca_name: str = "PEPPOL SERVICE METADATA PUBLISHER CA - G2"
    tls_ca: str | None = None  # PEM for the TLS of SMPs and APs; None: the system's CAs
    mls_inbox: str | None = None  # Message Level Status answers (UBL ApplicationResponse), one file each
    smp_cache_seconds: float = Field(3600, ge=0, le=86400)
    timeout_seconds: float = Field(30, gt=0)
    max_bytes: int | None = Field(None, gt=0)

    @field_validator("nameservers")
    @classmethod
    def _nameservers(cls, v: list[str]) -> list[str]:
        for ns in v:
            host, _, port = ns.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise custom(f"{ns!r} ist kein Namensserver der Form host:port", 'z. B. "127.0.0.1:53"')
        return v


class Portal(Strict):
    """An invoice portal of public bodies (ZRE, OZG-RE, a Land's portal) and who receives through it: by Leitweg-ID
    prefix (``05`` for a Land's bodies, ``991-`` for federal ones) or by customer number. The portal takes
    XRechnungen by e-mail, one invoice per mail; ``max_bytes`` is its limit per mail."""

    name: str = Field(min_length=1, max_length=80)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    leitweg_prefixes: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)  # customer numbers
    channels: list[Literal["email"]] = Field(default_factory=lambda: ["email"])
    max_bytes: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _someone(self) -> Portal:
        if not self.leitweg_prefixes and not self.recipients:
            raise ValueError(f"das Portal {self.name!r} nennt weder leitweg_prefixes noch recipients: wer empfängt "
                             "darüber?")
        return self

    def serves(self, customer_number: str, leitweg_id: str | None) -> bool:
        """Whether a public body with ``customer_number`` and ``leitweg_id`` receives through this portal."""
        return customer_number in self.recipients or bool(
            leitweg_id and any(leitweg_id.startswith(p) for p in self.leitweg_prefixes))


class PrintChannel(Strict):
    outbox: str = "var/print"  # print batches for the print shop (the open one in outbox/open)
    cover_sheets: bool = True
    duplex: bool = False
    return_address: str | None = None


class LegalConfirmations(Strict):
    """``[delivery.legal]``: the Land rules of ``legal.toml`` whose research is open (``confirmed = false``) that
    this municipality has checked against the law and confirms, as ``"<Land>:<rule>"`` (``"HE:vwvfg_41_2"``).
    Until then no notice travels under such a rule (``delivery.notification.UnconfirmedLegalRule``). A
    confirmation names its Land: one of another Land than ``[delivery] land`` (a configuration copied from a
    municipality elsewhere) confirms nothing here."""

    confirmed: list[str] = Field(default_factory=list)

    @field_validator("confirmed")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        for code in v:
            land, _, rule = code.partition(":")
            if land not in LANDS or not rule:
                raise custom(f"{code!r} ist keine Regel: Landeskürzel und Regel mit Doppelpunkt",
                             'z. B. confirmed = ["HE:vwvfg_41_2"] (Regeln: legal.toml, [rules.<Regel>.land.HE])')
        return v


class DeliverySection(Strict):
    """Every coded value is checked here, at load (a wrong one would otherwise surface only when a notice's
    legal date is computed, after it was sent): ``land`` against the table of the Länder (``model.codes.LANDS``),
    ``notice_group`` against the groups of ``legal.toml``; channels and ``bundid.via`` are fixed by the models."""

    land: str | None = None  # e.g. "NW": holidays and Land rules (legal.toml)
    notice_group: str = "default"  # legal.toml notice_bases group of the municipality's notices
    legal: LegalConfirmations = Field(default_factory=LegalConfirmations)  # open Land rules it confirmed
    key_prefix: str = Field("erechnung", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
    journal_dir: str = "var/delivery-journals"  # what the postbox adapters sent, per delivery (JSON lines)
    lease_seconds: float = Field(300, gt=0)
    batch_size: int = Field(20, ge=1, le=1000)
    retry: Retry = Field(default_factory=Retry)
    #: the invoice portals of public bodies, in order: the first that serves a recipient is its portal
    portals: list[Portal] = Field(default_factory=list)
    #: the official a message served against acknowledgement names (§ 5 Abs. 4 VwZG; förmliche Zustellung)
    service_officer: str = Field("", max_length=200)
    include: str | None = None  # a TOML file with more [email] / [bundid] / ... tables (same keys as here)
    # one table per channel with an adapter, under the channel's name (its entry in mailbox_connectors.registry)
    email: EmailChannel | None = None
    bundid: BundIdChannel | None = None
    elster: ElsterChannel | None = None
    peppol: PeppolChannel | None = None
    print: PrintChannel = Field(default_factory=PrintChannel)  # the last fallback is always there

    @field_validator("land")
    @classmethod
    def _land(cls, v: str | None) -> str | None:
        if v is not None and v not in LANDS:
            close = [code for code in LANDS if code == v.upper()]
            raise custom("ist kein Kürzel eines deutschen Landes",
                         (f"meinten Sie {close[0]!r}? " if close else "")
                         + f"erlaubt: {', '.join(LANDS)} (z. B. land = \"NW\" für Nordrhein-Westfalen)")
        return v

    @field_validator("notice_group")
    @classmethod
    def _notice_group(cls, v: str) -> str:
        try:
            groups = notice_groups()
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise custom(f"die Rechtsgrundlagen lassen sich nicht lesen: {LEGAL_RULES}: {exc}",
                         "prüfen Sie erechnung/config/legal.toml") from None
        if v not in groups:
            raise custom("ist keine Gruppe der Rechtsgrundlagen (legal.toml, [notice_bases.<Gruppe>])",
                         f"erlaubt: {', '.join(groups)}")
        return v

    def with_included(self, data: dict[str, Any]) -> DeliverySection:
        """This section with the channel tables of an included file where this one names none."""
        merged = self.model_dump(exclude_unset=True)
        for key, value in data.items():
            merged.setdefault(key, value)
        merged.pop("include", None)
        return DeliverySection.model_validate(merged)
