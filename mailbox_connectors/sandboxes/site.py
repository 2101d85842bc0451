"""All delivery sandboxes at once, on loopback, for the demo, the tests and ``erechnung sandbox``: an SMTP server
with STARTTLS, AUTH and DSN; FIT-Connect whose BundID bridge hands messages to a ZBP v6 sandbox; the ZBP itself
(for the direct route); ELSTER-Transfer. Each with its own test CA; TLS is verified by every client.

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
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .elster import ElsterSandbox
from .fitconnect import FitConnectSandbox
from .smtp import SmtpSandbox
from .tls import make_pki
from .zbp import ZbpSandbox

__all__ = ["SandboxSite"]

SENDER = "rechnung@musterstadt.example"
CONFIRMATIONS = "abrufbestaetigung@musterstadt.example"
SMTP_USER = "erechnung"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v), ensure_ascii=False)


def _table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


@dataclass
class SandboxSite:
    root: Path
    bundid_via: str = "fitconnect"  # or "zbp": the route delivery.toml sets up
    sender: str = SENDER
    smtp: SmtpSandbox | None = field(default=None, init=False)
    zbp: ZbpSandbox | None = field(default=None, init=False)
    fit: FitConnectSandbox | None = field(default=None, init=False)
    elster: ElsterSandbox | None = field(default=None, init=False)

    @property
    def delivery_toml(self) -> Path:
        return self.root / "delivery.toml"

    def start(self) -> SandboxSite:
        self.root = Path(self.root).resolve()
        pki_dir, secret_dir = self.root / "pki", self.root / "secrets"
        for d in (pki_dir, secret_dir):
            d.mkdir(parents=True, exist_ok=True)
        secret_dir.chmod(0o700)
        try:
            smtp_password = secrets.token_urlsafe(18)
            self.smtp = SmtpSandbox(self.root / "smtp", host="127.0.0.1",
                                    pki=make_pki(pki_dir / "smtp", hosts=("localhost", "127.0.0.1")),
                                    users={SMTP_USER: smtp_password}).start()
            (self.root / "zbp").mkdir(exist_ok=True)
            self.zbp = ZbpSandbox(confirmation_maildir=self.root / "zbp" / "confirmations").start()
            self.fit = FitConnectSandbox(bridge_to=self.zbp, zbp_mailboxes=self.zbp.mailboxes).start()
            self.elster = ElsterSandbox().start()
        except BaseException:
            self.stop()
            raise
        files = {
            "smtp_password": (secret_dir / "smtp_password", smtp_password.encode()),
            "fit_secret": (secret_dir / "fitconnect_client_secret", self.fit.client_secret.encode()),
            "elster_token": (secret_dir / "elster_api_token", self.elster.api_token.encode()),
            "fit_root": (pki_dir / "fitconnect-root.pem", self.fit.root_pem),
            "zbp_ca": (pki_dir / "zbp-ca.pem", self.zbp.ca.root_pem),
            "elster_ca": (pki_dir / "elster-ca.pem", self.elster.ca.root_pem),
        }
        for path, data in files.values():
            path.write_bytes(data)
            if path.parent == secret_dir:
                path.chmod(0o600)
        author_crt, author_key = self.fit.issue_author("Stadt Musterstadt Stadtkasse").write(pki_dir, "bpki-author")
        zbp_crt, zbp_key = self.zbp.issue_client("Stadt Musterstadt Stadtkasse").write(pki_dir, "zbp-client")
        bundid: dict[str, Any] = {"via": self.bundid_via, "sender": "Stadt Musterstadt",
                                  "retrieval_confirmation_address": CONFIRMATIONS,
                                  "confirmations_maildir": str(self.zbp.confirmation_maildir)}
        text = ["# Written by `erechnung sandbox` / SandboxSite: the delivery channels of the local sandboxes.\n"
                "# Include it from the configuration: [delivery] include = \"<this file>\". Ports change with every\n"
                "# start; secrets are in secrets/ (0600), certificates in pki/.\n",
                _table("email", {"host": "localhost", "port": self.smtp.port, "sender": self.sender,
                                 "sender_name": "Stadt Musterstadt", "username": SMTP_USER, "password_env": "",
                                 "password_file": str(files["smtp_password"][0]),
                                 "ca_file": str(self.smtp.pki.ca_file),
                                 "bounce_maildir": str(self.smtp.bounce_maildir)}),
                _table("bundid", bundid | ({"bridge_destination_id": self.fit.bridge_destination_id,
                                            "author_cert": str(author_crt), "author_key": str(author_key)}
                                           if self.bundid_via == "fitconnect" else {})),
                _table("bundid.fitconnect", {"submission_url": self.fit.base_url, "token_url": self.fit.token_url,
                                             "client_id": self.fit.client_id, "client_secret_env": "",
                                             "client_secret_file": str(files["fit_secret"][0]),
                                             "trust_roots": str(files["fit_root"][0]),
                                             "tls_ca": str(files["fit_root"][0])})
                if self.bundid_via == "fitconnect" else
                _table("bundid.zbp", {"base_url": self.zbp.base_url, "client_cert": str(zbp_crt),
                                      "client_key": str(zbp_key), "tls_ca": str(files["zbp_ca"][0])}),
                _table("elster", {"base_url": self.elster.base_url, "api_token_env": "",
                                  "api_token_file": str(files["elster_token"][0]),
                                  "tls_ca": str(files["elster_ca"][0])})]
        self.delivery_toml.write_text("\n".join(text), encoding="utf-8")
        return self

    def register(self, recipients: Iterable[Any], *, closed_postboxes: Iterable[str] = ()) -> tuple[int, int]:
        """Open the BundID postboxes and ELSTER accounts the recipients (``model.recipients.Recipient``) name,
        except ``closed_postboxes`` (a postbox the citizen closed: the bridge rejects messages to it).
        Returns (postboxes, accounts) opened."""
        assert self.zbp is not None and self.elster is not None, "start() first"
        closed = set(closed_postboxes)
        boxes = accounts = 0
        for r in recipients:
            if getattr(r, "bundid_postbox", None) and r.bundid_postbox not in closed:
                self.zbp.add_mailbox(r.bundid_postbox)
                boxes += 1
            if getattr(r, "elster_account", None):
                self.elster.add_account(r.elster_account)
                accounts += 1
        return boxes, accounts

    def fail(self, spec: str) -> None:
        """A failure mode from the command line, as the real services fail:

        * SMTP: ``bounce:ADDRESS`` (accepted, then a failed DSN), ``reject:ADDRESS`` (550 at RCPT),
          ``greylist:ADDRESS`` (451 once), ``delay:ADDRESS`` (a delayed DSN, then delivered), ``stall:ADDRESS``
          (no answer after DATA: the client times out);
        * FIT-Connect subscriber: ``reject-next:N`` (the next N submissions are rejected, as by a closed postbox);
        * HTTP (``fitconnect``, ``zbp``, ``elster``): ``zbp:503x3`` (a status instead of an answer, 3 times),
          ``fitconnect:429`` (too many requests, Retry-After 2 s), ``elster:stall30`` (no answer for 30 s),
          ``zbp:drop`` (connection closed without an answer).
        """
        what, _, arg = spec.partition(":")
        if not arg:
            raise ValueError(f"failure mode {spec!r}: expected WHAT:ARGUMENT, e.g. bounce:anna@example.org")
        assert self.smtp is not None and self.fit is not None, "start() first"
        if what in ("bounce", "reject", "greylist", "stall"):
            getattr(self.smtp, what)(arg)
        elif what == "delay":
            self.smtp.delay(arg, then="delivered", after=2.0)
        elif what == "reject-next":
            self.fit.reject_next("Das Postfach nimmt keine Nachrichten an", times=int(arg))
        elif what in ("fitconnect", "zbp", "elster"):
            faults = {"fitconnect": self.fit, "zbp": self.zbp, "elster": self.elster}[what].faults
            if arg == "drop":
                faults.drop()
            elif arg.startswith("stall"):
                faults.stall(float(arg.removeprefix("stall") or 30))
            else:
                status, _, times = arg.partition("x")
                if status == "429":
                    faults.throttle(2, times=int(times or 1))
                else:
                    faults.fail(int(status), times=int(times or 1))
        else:
            raise ValueError(f"unknown failure mode {what!r} (bounce, reject, greylist, delay, stall, reject-next, "
                             "fitconnect, zbp, elster)")

    def endpoints(self) -> dict[str, str]:
        return {"SMTP (STARTTLS, AUTH, DSN)": f"smtp://localhost:{self.smtp.port}",
                "FIT-Connect Submission API": self.fit.base_url,
                "BundID-Postfach (ZBP v6)": self.zbp.base_url,
                "ELSTER-Transfer": self.elster.base_url}

    def stop(self) -> None:
        for server in (self.fit, self.zbp, self.elster, self.smtp):
            if server is not None:
                try:
                    server.stop()
                except Exception:  # noqa: BLE001 - stop the others regardless
                    pass

    def __enter__(self) -> SandboxSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
