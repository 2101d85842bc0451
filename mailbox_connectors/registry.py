"""The delivery channels, each declared once (:data:`CHANNELS`, one :class:`ChannelEntry` per ``Channel``): what it
accepts (document kinds, formats, notices; the recipient address it needs is ``model.recipients.CHANNEL_ADDRESS``),
its settings (the ``[delivery.<channel>]`` table and its class in ``erechnung.config.channels``), how its adapter
is built from them, and its sandbox (how ``sandboxes.site.SandboxSite`` starts it and which settings point a
configuration at it).

``erechnung.entrypoints.wiring.open_connectors`` builds the configured channels' adapters through their entries,
``SandboxSite`` starts the sandboxes through them and the adapters take their capabilities from them; nothing else
names every channel.

Secrets and files are read by the composition root, which hands each factory a :class:`Setup`; the factories
here only turn a settings table into the adapter's own settings.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from erechnung.config.channels import BundIdChannel, ElsterChannel, EmailChannel, PeppolChannel, PrintChannel
from erechnung.model.delivery import Channel, DeliveryFormat
from erechnung.model.documents import INVOICE_KINDS, DocumentKind
from erechnung.model.recipients import CHANNEL_ADDRESS

from ._journal import Journal
from .base import Capabilities, MailboxConnector, NoticeHandling

if TYPE_CHECKING:
    from .sandboxes.site import SandboxSite

__all__ = ["CHANNELS", "Accepts", "ChannelEntry", "ChannelSandbox", "Setup", "entry"]


@dataclass(frozen=True)
class Accepts:
    """What a channel accepts: the document kinds it carries, their formats as it sees them, and what it does with
    a notice (``base.NoticeHandling``)."""

    kinds: frozenset[DocumentKind]
    formats: frozenset[DeliveryFormat]
    notices: NoticeHandling

    def capabilities(self, channel: str, max_bytes: int | None) -> Capabilities:
        """An adapter's capabilities: these, with the largest document its settings allow."""
        return Capabilities(channel=channel, kinds=self.kinds, formats=self.formats, max_bytes=max_bytes,
                            notices=self.notices)


class Setup(Protocol):
    """What the composition root hands a factory: paths relative to the configuration file, files that must exist
    (``key`` names the setting in a mistake's message), secrets from their variable or file, and the journal of
    what an adapter sent (private, under ``[delivery] journal_dir``)."""

    def path(self, value: str | None) -> Path | None: ...

    def file(self, value: str, key: str) -> Path: ...

    def secret(self, env: str | None, file: str | None, key: str) -> str: ...

    def journal(self, name: str) -> Journal: ...

    def design(self) -> Any: ...  # the municipality's design (letterhead of the print cover sheets), or None


@dataclass(frozen=True)
class ChannelSandbox:
    """A channel's sandbox on the :class:`SandboxSite`: ``start(site)`` starts its servers (each handed to
    ``site.started``, which stops them again) and returns the ``[delivery.*]`` tables that point a configuration at
    them; ``endpoints(site)`` is what ``erechnung sandbox`` prints; ``failures`` the failure modes it can be told
    (``erechnung sandbox --fail <mode>:<argument>``, ``SandboxSite.fail``)."""

    start: Callable[[SandboxSite], dict[str, dict[str, Any]]]
    endpoints: Callable[[SandboxSite], dict[str, str]]
    failures: Mapping[str, Callable[[SandboxSite, str], None]] = field(default_factory=dict)


def _never(settings: Any) -> bool:
    return False


@dataclass(frozen=True)
class ChannelEntry:
    """One channel: ``settings`` is the class of its ``[delivery.<channel>]`` table (the section's key is the
    channel's name), ``build`` makes its adapter from a table; both None while it has no adapter.
    ``provision_on_receipt(settings)``: whether the channel's receipt is already the provision in the postbox
    (no separate "delivered" event follows)."""

    channel: Channel
    accepts: Accepts
    settings: type | None = None
    build: Callable[[Any, Setup], MailboxConnector] | None = None
    sandbox: ChannelSandbox | None = None
    provision_on_receipt: Callable[[Any], bool] = _never

    @property
    def key(self) -> str:
        """The table's key in ``[delivery]`` (``[delivery.email]``: ``email``)."""
        return self.channel.value

    @property
    def address(self) -> tuple[str, ...]:
        """The recipient register's fields this channel needs, one of them at least (none: the postal address)."""
        return CHANNEL_ADDRESS[self.channel]

    def configured(self, section: Any) -> Any | None:
        """This channel's settings in a ``[delivery]`` section, or None when it sets none up (or no adapter)."""
        return None if self.settings is None else getattr(section, self.key)


# ----------------------------------------------------------------------------------------------------- email

def _email(e: EmailChannel, setup: Setup) -> MailboxConnector:
    from .email import EmailConnector, EmailSettings

    kw: dict[str, Any] = {}
    if e.max_bytes is not None:
        kw["max_bytes"] = e.max_bytes
    return EmailConnector(EmailSettings(
        host=e.host, port=e.port, sender=e.sender, sender_name=e.sender_name, reply_to=e.reply_to,
        username=e.username, password_env=e.password_env,
        password_file=setup.file(e.password_file, "email.password_file") if e.password_file else None,
        ca_file=setup.file(e.ca_file, "email.ca_file") if e.ca_file else None, require_tls=e.require_tls,
        timeout=e.timeout_seconds, request_dsn=e.request_dsn, bounce_maildir=setup.path(e.bounce_maildir), **kw))


SMTP_USER = "erechnung"


def _email_sandbox(site: SandboxSite) -> dict[str, dict[str, Any]]:
    from .sandboxes.smtp import SmtpSandbox
    from .sandboxes.tls import make_pki

    password = secrets.token_urlsafe(18)
    site.smtp = site.started(SmtpSandbox(site.root / "smtp", host="127.0.0.1",
                                         pki=make_pki(site.pki_dir / "smtp", hosts=("localhost", "127.0.0.1")),
                                         users={SMTP_USER: password}))
    return {"email": {"host": "localhost", "port": site.smtp.port, "sender": site.sender,
                      "sender_name": "Stadt Musterstadt", "username": SMTP_USER, "password_env": "",
                      "password_file": str(site.secret("smtp_password", password.encode())),
                      "ca_file": str(site.smtp.pki.ca_file), "bounce_maildir": str(site.smtp.bounce_maildir)}}


#: ``bounce:ADDRESS`` (accepted, then a failed DSN), ``reject:ADDRESS`` (550 at RCPT), ``greylist:ADDRESS`` (451
#: once), ``delay:ADDRESS`` (a delayed DSN, then delivered), ``stall:ADDRESS`` (no answer after DATA: the client
#: times out)
_SMTP_FAILURES: dict[str, Callable[[Any, str], None]] = {
    "bounce": lambda site, address: site.smtp.bounce(address),
    "reject": lambda site, address: site.smtp.reject(address),
    "greylist": lambda site, address: site.smtp.greylist(address),
    "delay": lambda site, address: site.smtp.delay(address, then="delivered", after=2.0),
    "stall": lambda site, address: site.smtp.stall(address),
}


# ----------------------------------------------------------------------------------------------------- bundid

def _bundid(b: BundIdChannel, setup: Setup) -> MailboxConnector:
    from .bundid import AuthorIdentity, BundIdBridgeConnector, BundIdSettings, ZbpDirectConnector, ZbpSettings
    from .fitconnect_client import FitConnectSettings

    settings = BundIdSettings(sender=b.sender, service=b.service,
                              retrieval_confirmation_address=b.retrieval_confirmation_address,
                              confirmations_maildir=setup.path(b.confirmations_maildir), max_bytes=b.max_bytes)
    if b.via == "zbp":
        z = b.zbp
        assert z is not None
        return ZbpDirectConnector(ZbpSettings(
            base_url=z.base_url, client_cert=setup.file(z.client_cert, "bundid.zbp.client_cert"),
            client_key=setup.file(z.client_key, "bundid.zbp.client_key"),
            tls_ca=setup.file(z.tls_ca, "bundid.zbp.tls_ca") if z.tls_ca else None),
            settings, journal=setup.journal("bundid-zbp"))
    f = b.fitconnect
    assert f is not None and b.author_cert and b.author_key and b.bridge_destination_id
    author = AuthorIdentity.from_files(setup.file(b.author_cert, "bundid.author_cert"),
                                       setup.file(b.author_key, "bundid.author_key"))
    key = "bundid.fitconnect"
    fit = FitConnectSettings(
        submission_url=f.submission_url, token_url=f.token_url, client_id=f.client_id,
        client_secret=setup.secret(f.client_secret_env, f.client_secret_file, f"{key}.client_secret"),
        trust_roots=setup.file(f.trust_roots, f"{key}.trust_roots").read_bytes(),
        tls_ca=setup.file(f.tls_ca, f"{key}.tls_ca") if f.tls_ca else None, timeout=f.timeout_seconds)
    return BundIdBridgeConnector(fit, settings, author, bridge_destination_id=b.bridge_destination_id,
                                 journal=setup.journal("bundid-fitconnect"))


CONFIRMATIONS = "abrufbestaetigung@musterstadt.example"


def _bundid_sandbox(site: SandboxSite) -> dict[str, dict[str, Any]]:
    """The ZBP, and FIT-Connect whose BundID bridge hands messages to it; the tables set up ``site.bundid_via``."""
    from .sandboxes.fitconnect import FitConnectSandbox
    from .sandboxes.zbp import ZbpSandbox

    (site.root / "zbp").mkdir(exist_ok=True)
    site.zbp = site.started(ZbpSandbox(confirmation_maildir=site.root / "zbp" / "confirmations"))
    site.fit = site.started(FitConnectSandbox(bridge_to=site.zbp, zbp_mailboxes=site.zbp.mailboxes))
    fit_secret = site.secret("fitconnect_client_secret", site.fit.client_secret.encode())
    fit_root = site.certificate("fitconnect-root.pem", site.fit.root_pem)
    zbp_ca = site.certificate("zbp-ca.pem", site.zbp.ca.root_pem)
    author_crt, author_key = site.fit.issue_author("Stadt Musterstadt Stadtkasse").write(site.pki_dir, "bpki-author")
    zbp_crt, zbp_key = site.zbp.issue_client("Stadt Musterstadt Stadtkasse").write(site.pki_dir, "zbp-client")
    bundid: dict[str, Any] = {"via": site.bundid_via, "sender": "Stadt Musterstadt",
                              "retrieval_confirmation_address": CONFIRMATIONS,
                              "confirmations_maildir": str(site.zbp.confirmation_maildir)}
    if site.bundid_via == "fitconnect":
        return {"bundid": bundid | {"bridge_destination_id": site.fit.bridge_destination_id,
                                    "author_cert": str(author_crt), "author_key": str(author_key)},
                "bundid.fitconnect": {"submission_url": site.fit.base_url, "token_url": site.fit.token_url,
                                      "client_id": site.fit.client_id, "client_secret_env": "",
                                      "client_secret_file": str(fit_secret), "trust_roots": str(fit_root),
                                      "tls_ca": str(fit_root)}}
    return {"bundid": bundid, "bundid.zbp": {"base_url": site.zbp.base_url, "client_cert": str(zbp_crt),
                                             "client_key": str(zbp_key), "tls_ca": str(zbp_ca)}}


#: ``reject-next:N`` (the FIT-Connect subscriber rejects the next N submissions, as a closed postbox does);
#: ``fitconnect:...``, ``zbp:...``: an HTTP fault of that server (``sandboxes._http.Faults.command``)
_BUNDID_FAILURES: dict[str, Callable[[Any, str], None]] = {
    "reject-next": lambda site, n: site.fit.reject_next("Das Postfach nimmt keine Nachrichten an", times=int(n)),
    "fitconnect": lambda site, arg: site.fit.faults.command(arg),
    "zbp": lambda site, arg: site.zbp.faults.command(arg),
}


# ----------------------------------------------------------------------------------------------------- elster

def _elster(el: ElsterChannel, setup: Setup) -> MailboxConnector:
    from .elster import ElsterConnector, ElsterSettings

    return ElsterConnector(ElsterSettings(
        base_url=el.base_url, api_token=setup.secret(el.api_token_env, el.api_token_file, "elster.api_token"),
        tls_ca=setup.file(el.tls_ca, "elster.tls_ca") if el.tls_ca else None, timeout=el.timeout_seconds,
        max_bytes=el.max_bytes), journal=setup.journal("elster"))


def _elster_sandbox(site: SandboxSite) -> dict[str, dict[str, Any]]:
    from .sandboxes.elster import ElsterSandbox

    site.elster = site.started(ElsterSandbox())
    return {"elster": {"base_url": site.elster.base_url, "api_token_env": "",
                       "api_token_file": str(site.secret("elster_api_token", site.elster.api_token.encode())),
                       "tls_ca": str(site.certificate("elster-ca.pem", site.elster.ca.root_pem))}}


# ----------------------------------------------------------------------------------------------------- peppol

def _peppol(p: PeppolChannel, setup: Setup) -> MailboxConnector:
    from .peppol.connector import PeppolConnector, PeppolSettings

    nameservers = tuple((host, int(port)) for host, _, port in (ns.rpartition(":") for ns in p.nameservers))
    settings = PeppolSettings.from_files(
        ap_cert=setup.file(p.ap_cert, "peppol.ap_cert"), ap_key=setup.file(p.ap_key, "peppol.ap_key"),
        trust=setup.file(p.trust, "peppol.trust"), sender_id=p.sender_id, ap_seat=p.ap_seat, sml_zone=p.sml_zone,
        nameservers=nameservers, ap_ca_name=p.ap_ca_name, smp_ca_name=p.smp_ca_name,
        tls_ca=setup.file(p.tls_ca, "peppol.tls_ca") if p.tls_ca else None, mls_inbox=setup.path(p.mls_inbox),
        smp_cache_seconds=p.smp_cache_seconds, timeout=p.timeout_seconds, max_bytes=p.max_bytes)
    return PeppolConnector(settings, journal=setup.journal("peppol"))


#: Our access point's seat in the sandbox network, and the receiving AP's (Peppol seat ids: P + country + 6 digits)
SANDBOX_AP_SEAT, SANDBOX_RECEIVER_SEAT = "PDE000001", "PDE000002"


def _peppol_sandbox(site: SandboxSite) -> dict[str, dict[str, Any]]:
    """The Peppol network on loopback: the SML's DNS and an SMP (``peppol_directory``), a receiving access point
    (``peppol_ap``) whose Message Level Status answers land in our MLS inbox, and our own AP certificate, all from
    one test PKI shaped like Peppol's (``peppol_pki``). ``site.register`` publishes the recipients' participant ids
    in the SMP, pointing at that access point."""
    from .sandboxes.peppol_ap import PeppolApSandbox
    from .sandboxes.peppol_directory import PeppolDirectorySandbox
    from .sandboxes.peppol_pki import AP_CA, SMP_CA, PeppolTestPKI
    from .sandboxes.pki import TestCA

    pki, tls_ca = PeppolTestPKI("sandbox"), TestCA("Peppol sandbox TLS root")
    mls = site.root / "peppol" / "mls-inbox"
    mls.mkdir(parents=True, exist_ok=True)
    site.peppol_directory = site.started(PeppolDirectorySandbox(pki, ca=tls_ca))
    site.peppol_ap = site.started(PeppolApSandbox(pki, seat=SANDBOX_RECEIVER_SEAT, mls_outbox=mls, tls_ca=tls_ca))
    crt, key = pki.issue_ap(SANDBOX_AP_SEAT, org="Stadt Musterstadt").write(site.pki_dir, "peppol-ap")
    tls = site.certificate("peppol-tls-ca.pem", tls_ca.root_pem)
    return {"peppol": {"sml_zone": site.peppol_directory.zone,
                       "nameservers": [f"127.0.0.1:{site.peppol_directory.dns_port}"],
                       "sender_id": site.peppol_sender, "ap_seat": SANDBOX_AP_SEAT, "ap_cert": str(crt),
                       "ap_key": str(key), "trust": str(site.certificate("peppol-trust.pem", pki.ca_pem)),
                       "ap_ca_name": AP_CA, "smp_ca_name": SMP_CA, "tls_ca": str(tls), "mls_inbox": str(mls)}}


#: ``peppol-unknown:PARTICIPANT`` (not in the SML), ``not-serviced:PARTICIPANT`` (the AP answers
#: PEPPOL:NOT_SERVICED), ``doctype:PARTICIPANT`` (the SMP serves another document type only), ``smp-signature:``
#: / ``smp-cert:PARTICIPANT`` (tampered metadata / signed outside the Peppol PKI), ``mls-reject:PARTICIPANT``,
#: ``dns:servfail|timeout``, ``smp:...`` / ``ap:...``: an HTTP fault of that server (``sandboxes._http.Faults``)
_PEPPOL_FAILURES: dict[str, Callable[[Any, str], None]] = {
    "peppol-unknown": lambda site, p: site.peppol_directory.unregister(p),
    "not-serviced": lambda site, p: site.peppol_ap.not_serviced(p),
    "doctype": lambda site, p: site.peppol_directory.doc_types(p, ["busdox-docid-qns::urn:example:other##x::1"]),
    "smp-signature": lambda site, p: site.peppol_directory.bad_signature(p),
    "smp-cert": lambda site, p: site.peppol_directory.foreign_smp_cert(p),
    "mls-reject": lambda site, p: site.peppol_ap.reject_mls(p, "Rechnung nicht zuordenbar"),
    "dns": lambda site, mode: site.peppol_directory.dns_fault(mode),
    "smp": lambda site, arg: site.peppol_directory.faults.command(arg),
    "ap": lambda site, arg: site.peppol_ap.faults.command(arg),
}


# ----------------------------------------------------------------------------------------------------- print

def _print(p: PrintChannel, setup: Setup) -> MailboxConnector:
    from .print import PrintConnector, PrintSettings

    outbox = setup.path(p.outbox)
    assert outbox is not None
    return PrintConnector(PrintSettings(outbox=outbox, cover_sheets=p.cover_sheets, duplex=p.duplex,
                                        return_address=p.return_address, design=setup.design()))


#: The print shop collects batches from a folder (``[delivery.print] outbox``): there is no server to stand in
#: for, the configuration's own folder is the sandbox.
_FOLDER = ChannelSandbox(lambda site: {}, lambda site: {})


# ----------------------------------------------------------------------------------------------------- the entries

_LETTERS = frozenset({DeliveryFormat.PDFA, DeliveryFormat.ZUGFERD})

#: Every channel, in the order the configuration's tables are set up and the sandboxes started.
CHANNELS: tuple[ChannelEntry, ...] = (
    ChannelEntry(Channel.EMAIL,
                 Accepts(INVOICE_KINDS, frozenset({DeliveryFormat.XRECHNUNG, DeliveryFormat.ZUGFERD}),
                         NoticeHandling.NOTIFY_ONLY),
                 EmailChannel, _email,
                 ChannelSandbox(_email_sandbox,
                                lambda site: {"SMTP (STARTTLS, AUTH, DSN)": f"smtp://localhost:{site.smtp.port}"},
                                _SMTP_FAILURES)),
    ChannelEntry(Channel.BUNDID, Accepts(frozenset(DocumentKind), _LETTERS, NoticeHandling.CARRY),
                 BundIdChannel, _bundid,
                 ChannelSandbox(_bundid_sandbox, lambda site: {"FIT-Connect Submission API": site.fit.base_url,
                                                               "BundID-Postfach (ZBP v6)": site.zbp.base_url},
                                _BUNDID_FAILURES),
                 provision_on_receipt=lambda b: b.via == "zbp"),  # ZBP's 201: stored in the postbox
    ChannelEntry(Channel.ELSTER, Accepts(frozenset(DocumentKind), _LETTERS, NoticeHandling.CARRY),
                 ElsterChannel, _elster,
                 ChannelSandbox(_elster_sandbox, lambda site: {"ELSTER-Transfer": site.elster.base_url},
                                {"elster": lambda site, arg: site.elster.faults.command(arg)})),
    ChannelEntry(Channel.PRINT, Accepts(frozenset(DocumentKind), _LETTERS, NoticeHandling.CARRY),
                 PrintChannel, _print, _FOLDER),
    ChannelEntry(Channel.PEPPOL,
                 Accepts(INVOICE_KINDS, frozenset({DeliveryFormat.XRECHNUNG}), NoticeHandling.NONE),
                 PeppolChannel, _peppol,
                 ChannelSandbox(_peppol_sandbox,
                                lambda site: {"Peppol SML (DNS, U-NAPTR)":
                                              f"dns://127.0.0.1:{site.peppol_directory.dns_port}/"
                                              f"{site.peppol_directory.zone}",
                                              "Peppol SMP": site.peppol_directory.base_url,
                                              "Peppol access point (AS4)": site.peppol_ap.base_url},
                                _PEPPOL_FAILURES)),
)

_BY_CHANNEL = {e.channel: e for e in CHANNELS}


def entry(channel: str) -> ChannelEntry:
    """The entry of ``channel`` (a ``Channel`` or its name)."""
    return _BY_CHANNEL[Channel(channel)]
