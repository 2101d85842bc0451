"""All delivery sandboxes at once, on loopback, for the demo, the tests and ``erechnung sandbox``: an SMTP server
with STARTTLS, AUTH and DSN; FIT-Connect whose BundID bridge hands messages to a ZBP v6 sandbox; the ZBP itself
(for the direct route); ELSTER-Transfer. Each with its own test CA; TLS is verified by every client. How each
channel's sandbox starts and which settings point at it is its entry in ``mailbox_connectors.registry``.

    site = SandboxSite(Path("var/sandbox")).start()
    site.register(recipients)          # the postboxes and ELSTER accounts the recipient register names
    ...                                # config: [delivery] include = "var/sandbox/delivery.toml"
    site.stop()

``start`` writes ``root/delivery.toml``: the ``[delivery.*]`` tables a configuration includes to deliver to these
servers, with every secret in a file of its own under ``root/secrets/`` (mode 0600) and every certificate under
``root/pki/``. What arrived can be read back: ``site.smtp.messages(address)``, ``site.zbp.messages``,
``site.elster.orders``; failure modes are the sandboxes' own (``site.fit.reject_next()``, ``site.zbp.faults``,
``site.smtp.bounce(address)`` ...) or, for the command line, :meth:`fail`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple, TypeVar

from ..registry import CHANNELS
from .elster import ElsterSandbox
from .fitconnect import FitConnectSandbox
from .smtp import SmtpSandbox
from .zbp import ZbpSandbox

if TYPE_CHECKING:
    from .peppol_ap import PeppolApSandbox
    from .peppol_directory import PeppolDirectorySandbox

__all__ = ["SandboxSite"]

SENDER = "rechnung@musterstadt.example"
PEPPOL_SENDER = "9930:DE123456789"  # the municipality's USt-IdNr. as its Peppol participant id


class Registered(NamedTuple):
    """What :meth:`SandboxSite.register` opened: BundID postboxes, ELSTER accounts, Peppol participants."""

    postboxes: int
    accounts: int
    participants: int
_Server = TypeVar("_Server")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def _table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


@dataclass
class SandboxSite:
    """The sandbox of every channel that has one (``registry.CHANNELS``), started in the registry's order."""

    root: Path
    bundid_via: str = "fitconnect"  # or "zbp": the route delivery.toml sets up
    sender: str = SENDER
    peppol_sender: str = PEPPOL_SENDER
    smtp: SmtpSandbox | None = field(default=None, init=False)
    zbp: ZbpSandbox | None = field(default=None, init=False)
    fit: FitConnectSandbox | None = field(default=None, init=False)
    elster: ElsterSandbox | None = field(default=None, init=False)
    peppol_directory: PeppolDirectorySandbox | None = field(default=None, init=False)
    peppol_ap: PeppolApSandbox | None = field(default=None, init=False)
    _running: list[Any] = field(default_factory=list, init=False, repr=False)

    @property
    def delivery_toml(self) -> Path:
        return self.root / "delivery.toml"

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    def started(self, server: _Server) -> _Server:
        """``server`` started; :meth:`stop` stops it (for the registry's sandbox entries)."""
        server.start()  # type: ignore[attr-defined]
        self._running.append(server)
        return server

    def secret(self, name: str, data: bytes) -> Path:
        """``data`` in a file of its own under ``secrets/`` (mode 0600), for a table's ``..._file`` key."""
        path = self.root / "secrets" / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def certificate(self, name: str, pem: bytes) -> Path:
        """A certificate (PEM) under ``pki/``, for a table's CA or trust-root key."""
        path = self.pki_dir / name
        path.write_bytes(pem)
        return path

    def start(self) -> SandboxSite:
        self.root = Path(self.root).resolve()
        secret_dir = self.root / "secrets"
        for d in (self.pki_dir, secret_dir):
            d.mkdir(parents=True, exist_ok=True)
        secret_dir.chmod(0o700)
        text = ["# Written by `erechnung sandbox` / SandboxSite: the delivery channels of the local sandboxes.\n"
                "# Include it from the configuration: [delivery] include = \"<this file>\". Ports change with every\n"
                "# start; secrets are in secrets/ (0600), certificates in pki/.\n"]
        try:
            for entry in CHANNELS:
                if entry.sandbox is not None:
                    text += [_table(name, values) for name, values in entry.sandbox.start(self).items()]
        except BaseException:
            self.stop()
            raise
        self.delivery_toml.write_text("\n".join(text), encoding="utf-8")
        return self

    def register(self, recipients: Iterable[Any], *, closed_postboxes: Iterable[str] = (),
                 not_in_peppol: Iterable[str] = ()) -> Registered:
        """Open the BundID postboxes and ELSTER accounts the recipients (``model.recipients.Recipient``) name,
        except ``closed_postboxes`` (a postbox the citizen closed: the bridge rejects messages to it), and publish
        their Peppol participant ids (``Recipient.peppol_participant``: the register's, ``0204:<Leitweg-ID>``,
        ``9930:<USt-IdNr.>``) in the SMP, pointing at the receiving access point, except ``not_in_peppol``."""
        assert self.zbp is not None and self.elster is not None, "start() first"
        closed, outside = set(closed_postboxes), set(not_in_peppol)
        boxes = accounts = participants = 0
        for r in recipients:
            if getattr(r, "bundid_postbox", None) and r.bundid_postbox not in closed:
                self.zbp.add_mailbox(r.bundid_postbox)
                boxes += 1
            if getattr(r, "elster_account", None):
                self.elster.add_account(r.elster_account)
                accounts += 1
            participant = getattr(r, "peppol_participant", None)
            if participant and participant not in outside and self.peppol_directory is not None \
                    and self.peppol_ap is not None:
                self.peppol_directory.register(participant, endpoint_url=self.peppol_ap.base_url,
                                               ap_cert=self.peppol_ap.ap.cert)
                participants += 1
        return Registered(boxes, accounts, participants)

    def fail(self, spec: str) -> None:
        """A failure mode from the command line (``WHAT:ARGUMENT``, e.g. ``bounce:anna@example.org``,
        ``zbp:503x3``), as the real services fail; each channel's sandbox entry names its modes
        (``registry.ChannelSandbox.failures``)."""
        what, _, arg = spec.partition(":")
        if not arg:
            raise ValueError(f"failure mode {spec!r}: expected WHAT:ARGUMENT, e.g. bounce:anna@example.org")
        assert self._running, "start() first"
        modes = {name: act for entry in CHANNELS if entry.sandbox is not None
                 for name, act in entry.sandbox.failures.items()}
        if what not in modes:
            raise ValueError(f"unknown failure mode {what!r} ({', '.join(modes)})")
        modes[what](self, arg)

    def endpoints(self) -> dict[str, str]:
        return {name: url for entry in CHANNELS if entry.sandbox is not None
                for name, url in entry.sandbox.endpoints(self).items()}

    def stop(self) -> None:
        while self._running:
            server = self._running.pop()
            try:
                server.stop()
            except Exception:  # noqa: BLE001 - stop the others regardless
                pass

    def __enter__(self) -> SandboxSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

