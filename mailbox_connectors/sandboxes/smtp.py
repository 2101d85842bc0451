"""SMTP sandbox: a real SMTP server on loopback that delivers into Maildirs and writes delivery status reports.

    sandbox = start(tmp_path, pki=make_pki(tmp_path / "pki"), users={"stadtkasse": "geheim"})
    sandbox.reject("unbekannt@example.org")            # 550 5.1.1 at RCPT
    ...                                                 # send through sandbox.host, sandbox.port
    sandbox.messages("buerger@example.org")            # what arrived, as email.message.EmailMessage
    sandbox.reports()                                   # the DSNs written into the bounce Maildir
    sandbox.stop()

It is aiosmtpd 1.4.6 (in-process, a thread with its own event loop) extended where aiosmtpd stops:

* STARTTLS with the given certificate (``pki``; the server then refuses MAIL before STARTTLS) and AUTH
  PLAIN/LOGIN against ``users`` (only after STARTTLS; AUTH then required);
* the DSN extension (RFC 3461): ``DSN`` in the EHLO answer, ``RET=FULL|HDRS`` and ``ENVID=<xtext>`` on MAIL,
  ``NOTIFY=NEVER|SUCCESS,FAILURE,DELAY`` and ``ORCPT=rfc822;<xtext>`` on RCPT (aiosmtpd upper-cases parameters,
  which would spoil ENVID: they are read before it does); with ``dsn=False`` none of this is advertised and
  the parameters are refused with 555 like plain aiosmtpd;
* delivery status reports (RFC 3464 ``multipart/report; report-type=delivery-status``: a text part, the
  ``message/delivery-status`` part with ``Original-Envelope-Id``, ``Arrival-Date``, per recipient
  ``Original-Recipient``, ``Final-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``, ``Last-Attempt-Date``,
  and the returned message: ``text/rfc822-headers`` for RET=HDRS or no RET, ``message/rfc822`` for RET=FULL)
  written into one bounce Maildir (``bounce_maildir``; a real MTA mails them to the envelope sender): ``delivered``
  when NOTIFY asks for SUCCESS, ``failed`` and ``delayed`` unless NOTIFY says otherwise (no NOTIFY means
  FAILURE,DELAY, as RFC 3461 leaves to the MTA; NOTIFY=NEVER means none), never for an empty sender (<>);
* messages are stored as received, with ``Return-Path`` and ``Delivered-To`` added, in a Maildir per
  recipient under ``root/mailboxes/<address>/new``.

Failure modes, per recipient address (``"*"`` for every recipient), set and cleared while it runs:

=========================== ==========================================================================
``reject(addr, reply)``     permanent refusal at RCPT (default ``550 5.1.1 ... User unknown``)
``greylist(addr, times)``   ``451 4.7.1`` greylisting for the next ``times`` attempts, then accepted
``stall(addr, seconds, at)`` no answer for ``seconds`` at ``"rcpt"`` or after the message (``"data"``)
``too_large(bytes)``        SIZE limit: ``552`` at MAIL (SIZE=) or after DATA (the whole server)
``bounce(addr, after)``     accepted with 250, then a ``failed`` DSN ``after`` seconds (mailbox full ...)
``delay(addr, then)``       accepted, a ``delayed`` DSN now, then ``delivered`` or ``failed`` (or nothing)
``clear()``                 forget every rule (and count reports for ``wait_for_reports`` anew)
=========================== ==========================================================================

Run it alone with ``python -m mailbox_connectors.sandboxes.smtp --root DIR`` (``--help`` for the options); it
prints one JSON line with host, port and the CA file, then serves until interrupted.
"""
from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import re
import signal
import socket
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from itertools import count
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword

from .tls import Pki, make_pki

__all__ = ["SmtpSandbox", "start", "free_port"]

log = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 25_000_000  # what many providers accept
_NOTIFY = frozenset({"SUCCESS", "FAILURE", "DELAY"})
_DEFAULT_NOTIFY = frozenset({"FAILURE", "DELAY"})


# ------------------------------------------------------------------------------------------------ helpers


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (aiosmtpd's Controller does not take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_XTEXT = re.compile(r"\+([0-9A-F]{2})")


def _xtext_decode(text: str) -> str:
    return _XTEXT.sub(lambda m: chr(int(m.group(1), 16)), text)


def _xtext_valid(text: str) -> bool:
    return all(33 <= ord(c) <= 126 and c != "=" for c in text) and not re.search(r"\+(?![0-9A-F]{2})", text)


def _take_params(arg: str, names: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """``arg`` without the ESMTP parameters ``names`` (matched case-insensitively, values kept as sent)."""
    kept, taken = [], {}
    for i, token in enumerate(arg.split(" ")):
        key, eq, value = token.partition("=")
        if i > 0 and eq and key.upper() in names:
            taken[key.upper()] = value
        else:
            kept.append(token)
    return " ".join(kept), taken


class _Maildir:
    """A Maildir folder written the way MTAs do: a unique name in ``tmp``, then renamed into ``new``."""

    _seq = count()

    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> Path:
        name = f"{time.time():.6f}.P{os.getpid()}Q{next(self._seq)}.sandbox"
        tmp = self.path / "tmp" / name
        tmp.write_bytes(data.replace(b"\r\n", b"\n"))
        final = self.path / "new" / name
        os.replace(tmp, final)
        return final

    def files(self) -> list[Path]:
        return sorted((p for sub in ("new", "cur") for p in (self.path / sub).iterdir()), key=lambda p: p.name)


# ------------------------------------------------------------------------------------------------ rules


@dataclass
class _Rule:
    kind: str  # reject | greylist | stall | bounce | delay
    reply: str = ""
    times: int = 0
    seconds: float = 0.0
    at: str = "data"
    status: str = ""
    diagnostic: str = ""
    then: str | None = None


@dataclass
class _DsnRecipient:
    address: str
    notify: frozenset[str] | None  # None: NOTIFY not given
    orcpt: str | None  # "rfc822;addr", decoded

    def wants(self, what: str) -> bool:
        return what in (self.notify if self.notify is not None else _DEFAULT_NOTIFY)


class _DsnEnvelope(Envelope):
    def __init__(self) -> None:
        super().__init__()
        self.envid: str | None = None
        self.ret: str | None = None
        self.dsn_rcpts: list[_DsnRecipient] = []
        self.arrival: datetime | None = None


# ------------------------------------------------------------------------------------------------ server


class _DsnSMTP(SMTP):
    """aiosmtpd's SMTP with the RFC 3461 parameters read (case kept) before aiosmtpd upper-cases the rest."""

    def __init__(self, handler: Any, *, dsn: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.dsn = dsn

    def _create_envelope(self) -> Envelope:
        return _DsnEnvelope()

    async def smtp_MAIL(self, arg: str | None) -> None:
        params: dict[str, str] = {}
        if self.dsn and arg:
            arg, params = _take_params(arg, ("RET", "ENVID"))
            ret, envid = params.get("RET"), params.get("ENVID")
            if ret is not None and ret.upper() not in ("FULL", "HDRS"):
                await self.push("501 5.5.4 RET must be FULL or HDRS")
                return
            if envid is not None and (not _xtext_valid(envid) or len(envid) > 100):
                await self.push("501 5.5.4 ENVID is not valid xtext of at most 100 characters")
                return
        before = self.envelope.mail_from if self.envelope else None
        await super().smtp_MAIL(arg)
        env = self.envelope
        if isinstance(env, _DsnEnvelope) and env.mail_from is not None and before is None:
            env.envid = _xtext_decode(params["ENVID"]) if "ENVID" in params else None
            env.ret = params["RET"].upper() if "RET" in params else None

    async def smtp_RCPT(self, arg: str | None) -> None:
        params: dict[str, str] = {}
        if self.dsn and arg:
            arg, params = _take_params(arg, ("NOTIFY", "ORCPT"))
            if "NOTIFY" in params:
                words = set(params["NOTIFY"].upper().split(","))
                if not (words == {"NEVER"} or (words and words <= _NOTIFY)):
                    await self.push("501 5.5.4 NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY")
                    return
            if "ORCPT" in params:
                kind, semi, addr = params["ORCPT"].partition(";")
                if not semi or not kind or not _xtext_valid(addr):
                    await self.push("501 5.5.4 ORCPT must be addr-type;xtext")
                    return
        env = self.envelope
        before = len(env.rcpt_tos) if env else 0
        await super().smtp_RCPT(arg)
        env = self.envelope
        if isinstance(env, _DsnEnvelope) and len(env.rcpt_tos) > before:
            notify = frozenset(params["NOTIFY"].upper().split(",")) if "NOTIFY" in params else None
            orcpt = None
            if "ORCPT" in params:
                kind, _, addr = params["ORCPT"].partition(";")
                orcpt = f"{kind.lower()};{_xtext_decode(addr)}"
            env.dsn_rcpts.append(_DsnRecipient(env.rcpt_tos[-1], notify, orcpt))


    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA reads the message line by line (a 60 kB PDF: 1000 awaits, most of the server's CPU);
        this reads it in the chunks that arrive and finds the end (CRLF . CRLF) at the end of what came (without
        PIPELINING the client waits for the reply, so nothing follows it). Dot-unstuffing, the size limit (552
        after the data) and the DATA hook are as in aiosmtpd; lines longer than 1000 octets are not refused."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = bytearray()
        too_much = False
        limit = self.data_size_limit
        while True:
            chunk = await self._reader.read(262_144)
            if not chunk:  # connection closed in the middle of the message
                return
            data += chunk
            if data.endswith(b"\r\n.\r\n") or data == b".\r\n":
                break
            if limit and len(data) > limit + 5:
                too_much = True
                del data[:-5]  # keep only what may hold the start of the end marker
        if too_much or (limit and len(data) - 3 > limit):
            self._set_post_data_state()
            await self.push("552 Error: Too much mail data")
            return
        content = bytes(data[:-3])  # without ".\r\n"; the message keeps its last CRLF
        if content.startswith(b"."):
            content = content[1:]
        content = content.replace(b"\r\n.", b"\r\n")
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class _Controller(Controller):
    def __init__(self, handler: Any, *, dsn: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._dsn = dsn
        self.sessions: weakref.WeakSet[_DsnSMTP] = weakref.WeakSet()

    def factory(self) -> SMTP:
        server = _DsnSMTP(self.handler, dsn=self._dsn, **self.SMTP_kwargs)
        self.sessions.add(server)
        return server

    def stop(self, no_assert: bool = False) -> None:
        """Drop every open connection first (clients see the connection closed at once, as when a real server
        restarts), then stop the loop."""
        done = threading.Event()

        def drop() -> None:
            for server in list(self.sessions):
                if server.transport is not None:
                    server.transport.abort()
            done.set()

        if self.loop.is_running():
            self.loop.call_soon_threadsafe(drop)
            done.wait(5)
        super().stop(no_assert)


class _Handler:
    def __init__(self, sandbox: SmtpSandbox) -> None:
        self.sandbox = sandbox

    async def handle_EHLO(self, server: SMTP, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        extra = ["250-ENHANCEDSTATUSCODES"] + (["250-DSN"] if self.sandbox.dsn else [])
        return responses[:-1] + extra + responses[-1:]

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        rule = self.sandbox._rule(address, ("reject", "greylist", "stall"))
        if rule is not None:
            if rule.kind == "reject":
                return rule.reply
            if rule.kind == "greylist":
                if self.sandbox._use_greylist(rule):
                    return "451 4.7.1 Greylisted, please try again later"
            elif rule.kind == "stall" and rule.at == "rcpt":
                await asyncio.sleep(rule.seconds)
                return "451 4.4.2 Timeout, try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: _DsnEnvelope) -> str:
        sandbox = self.sandbox
        for rcpt in envelope.rcpt_tos:
            rule = sandbox._rule(rcpt, ("stall",))
            if rule is not None and rule.at == "data":
                await asyncio.sleep(rule.seconds)
                return "451 4.4.2 Timeout, try again later"
        envelope.arrival = datetime.now(timezone.utc)
        queue_id = f"{time.time_ns():x}"
        content = envelope.original_content or b""
        for i, rcpt in enumerate(envelope.rcpt_tos):
            dsn_rcpt = (envelope.dsn_rcpts[i] if i < len(envelope.dsn_rcpts)
                        else _DsnRecipient(rcpt, None, None))
            sandbox._accepted(envelope, dsn_rcpt, content, queue_id)
        return f"250 2.0.0 OK queued as {queue_id}"


@dataclass
class SmtpSandbox:
    """A loopback MTA for tests and benches (see the module docstring). ``start()`` it, ``stop()`` it."""

    root: Path
    host: str = "127.0.0.1"
    port: int | None = None  # None: a free port at start
    pki: Pki | None = None  # STARTTLS with this certificate (then required before MAIL)
    users: Mapping[str, str] | None = None  # AUTH with these (then required); None: no AUTH
    dsn: bool = True  # advertise and honour DSN (RFC 3461)
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    hostname: str = "mx.sandbox.test"
    bounce_maildir: Path | None = None  # default root/bounces
    quiet: bool = True  # aiosmtpd logs only errors (its INFO lines name addresses)
    _rules: dict[str, _Rule] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _reports: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _report_envids: list[str | None] = field(default_factory=list, init=False, repr=False)  # since clear()
    _controller: _Controller | None = field(default=None, init=False, repr=False)
    _boxes: dict[str, _Maildir] = field(default_factory=dict, init=False, repr=False)
    received: int = field(default=0, init=False)  # messages accepted with 250 after DATA

    # ------------------------------------------------------------------------------------------- running

    def start(self) -> SmtpSandbox:
        self.root = Path(self.root)
        self.bounce_maildir = Path(self.bounce_maildir or self.root / "bounces")
        self._bounces = _Maildir(self.bounce_maildir)
        if self.quiet:
            logging.getLogger("mail.log").setLevel(logging.ERROR)
        kwargs: dict[str, Any] = {"data_size_limit": self.max_message_bytes, "enable_SMTPUTF8": False,
                                  "ident": "erechnung SMTP sandbox", "timeout": 300}
        if self.pki is not None:
            kwargs.update(tls_context=self.pki.server_context(), require_starttls=True)
        if self.users is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.pki is not None)
        for attempt in range(5):
            port = self.port or free_port(self.host)
            controller = _Controller(_Handler(self), dsn=self.dsn, hostname=self.host, port=port,
                                     server_hostname=self.hostname, ready_timeout=30.0, **kwargs)
            try:
                controller.start()
            except OSError:
                if self.port or attempt == 4:
                    raise
                continue
            self.port, self._controller = port, controller
            return self
        raise RuntimeError("unreachable")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSandbox:
        return self.start() if self._controller is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authenticate(self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.users is not None:
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if user in self.users and self.users[user] == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    # ------------------------------------------------------------------------------------------- rules

    def reject(self, address: str, reply: str | None = None) -> None:
        """Refuse ``address`` for good at RCPT (default: unknown user)."""
        self._set(address, _Rule("reject", reply=reply or
                                 f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"))

    def greylist(self, address: str, times: int = 1) -> None:
        """Answer ``451 4.7.1`` to the next ``times`` attempts for ``address``, then accept."""
        self._set(address, _Rule("greylist", times=times))

    def stall(self, address: str, seconds: float = 60.0, at: str = "data") -> None:
        """Do not answer for ``seconds``: at RCPT (``at="rcpt"``) or after the message's final dot (``"data"``)."""
        if at not in ("rcpt", "data"):
            raise ValueError("at must be 'rcpt' or 'data'")
        self._set(address, _Rule("stall", seconds=seconds, at=at))

    def too_large(self, max_message_bytes: int) -> None:
        """The server's SIZE limit (takes effect for connections opened from now on)."""
        self.max_message_bytes = max_message_bytes
        if self._controller is not None:
            self._controller.SMTP_kwargs["data_size_limit"] = max_message_bytes

    def bounce(self, address: str, after: float = 0.0, status: str = "5.2.2",
               diagnostic: str = "smtp; 552 5.2.2 Mailbox full") -> None:
        """Accept mail for ``address`` with 250, then report it ``failed`` after ``after`` seconds."""
        self._set(address, _Rule("bounce", seconds=after, status=status, diagnostic=diagnostic))

    def delay(self, address: str, then: str | None = None, after: float = 0.0,
              diagnostic: str = "smtp; 451 4.4.1 Connection timed out") -> None:
        """Accept mail for ``address``, report it ``delayed`` at once, then ``delivered`` or ``failed`` after
        ``after`` seconds (``then=None``: it stays queued)."""
        if then not in (None, "delivered", "failed"):
            raise ValueError("then must be None, 'delivered' or 'failed'")
        self._set(address, _Rule("delay", seconds=after, then=then, status="4.4.1", diagnostic=diagnostic))

    def clear(self) -> None:
        """Forget every rule, and count reports anew (``wait_for_reports`` counts from here)."""
        with self._lock:
            self._rules.clear()
        with self._reports:
            self._report_envids.clear()

    def _set(self, address: str, rule: _Rule) -> None:
        with self._lock:
            self._rules[address.lower()] = rule

    def _rule(self, address: str, kinds: tuple[str, ...]) -> _Rule | None:
        with self._lock:
            rule = self._rules.get(address.lower()) or self._rules.get("*")
        return rule if rule is not None and rule.kind in kinds else None

    def _use_greylist(self, rule: _Rule) -> bool:
        with self._lock:
            if rule.times > 0:
                rule.times -= 1
                return True
            return False

    # ------------------------------------------------------------------------------------------- mailboxes

    def mailbox(self, address: str) -> Path:
        """The Maildir folder of ``address``."""
        safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", address.lower())
        return self.root / "mailboxes" / safe

    def messages(self, address: str) -> list[EmailMessage]:
        """What was delivered to ``address``, oldest first."""
        box = self.mailbox(address)
        if not box.exists():
            return []
        return [_parse(p.read_bytes()) for p in _Maildir(box).files()]

    def reports(self) -> list[EmailMessage]:
        """The delivery status reports written so far, oldest first."""
        return [_parse(p.read_bytes()) for p in _Maildir(Path(self.bounce_maildir or self.root / "bounces")).files()]

    def wait_for_reports(self, n: int, timeout: float = 10.0, envid: str | None = None) -> bool:
        """Wait until at least ``n`` reports were written since start or the last ``clear()`` (only those about
        envelope id ``envid`` when given): True, or False when ``timeout`` passed first."""
        def enough() -> bool:
            ids = self._report_envids
            return (len(ids) if envid is None else sum(1 for i in ids if i == envid)) >= n

        with self._reports:
            return self._reports.wait_for(enough, timeout)

    # ------------------------------------------------------------------------------------------- delivery

    def _box(self, address: str) -> _Maildir:
        box = self._boxes.get(address)
        if box is None:
            box = self._boxes[address] = _Maildir(self.mailbox(address))
        return box

    def _accepted(self, env: _DsnEnvelope, rcpt: _DsnRecipient, content: bytes, queue_id: str) -> None:
        """Runs on the server's loop after 250 is decided for ``rcpt``."""
        self.received += 1
        rule = self._rule(rcpt.address, ("bounce", "delay"))
        loop = asyncio.get_running_loop()
        if rule is None:
            self._deliver(env, rcpt, content, queue_id)
        elif rule.kind == "bounce":
            loop.call_later(rule.seconds, self._report, env, rcpt, content, "failed", rule.status, rule.diagnostic)
        else:
            self._report(env, rcpt, content, "delayed", rule.status, rule.diagnostic)
            if rule.then == "delivered":
                loop.call_later(rule.seconds, self._deliver, env, rcpt, content, queue_id)
            elif rule.then == "failed":
                loop.call_later(rule.seconds, self._report, env, rcpt, content, "failed", "5.4.7",
                                "smtp; 550 5.4.7 Delivery time expired")

    def _deliver(self, env: _DsnEnvelope, rcpt: _DsnRecipient, content: bytes, queue_id: str) -> None:
        head = (f"Return-Path: <{env.mail_from or ''}>\r\nDelivered-To: {rcpt.address}\r\n"
                f"Received: from client by {self.hostname} (erechnung SMTP sandbox) with ESMTP id "
                f"{queue_id} for <{rcpt.address}>; {format_datetime(datetime.now(timezone.utc))}\r\n").encode()
        self._box(rcpt.address).put(head + content)
        self._report(env, rcpt, content, "delivered", "2.0.0",
                     f"smtp; 250 2.0.0 delivered to mailbox ({queue_id})")

    def _report(self, env: _DsnEnvelope, rcpt: _DsnRecipient, content: bytes, action: str, status: str,
                diagnostic: str) -> None:
        want = {"delivered": "SUCCESS", "failed": "FAILURE", "delayed": "DELAY"}[action]
        if not env.mail_from or not rcpt.wants(want):
            return
        report = delivery_report(reporting_mta=self.hostname, sender=env.mail_from, envid=env.envid,
                                 arrival=env.arrival or datetime.now(timezone.utc), recipient=rcpt.address,
                                 orcpt=rcpt.orcpt, action=action, status=status, diagnostic=diagnostic,
                                 original=content, ret=env.ret or "HDRS")
        self._bounces.put(report)
        with self._reports:
            self._report_envids.append(env.envid)
            self._reports.notify_all()


def _parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


_TITLES = {"delivered": "Successful Mail Delivery Report", "failed": "Undelivered Mail Returned to Sender",
           "delayed": "Delayed Mail (still being retried)"}


def delivery_report(*, reporting_mta: str, sender: str, envid: str | None, arrival: datetime, recipient: str,
                    orcpt: str | None, action: str, status: str, diagnostic: str, original: bytes,
                    ret: str = "HDRS") -> bytes:
    """An RFC 3464 delivery status notification for one recipient, as bytes with CRLF line ends."""
    now = datetime.now(timezone.utc)
    boundary = f"=_dsn_{time.time_ns():x}"
    human = {
        "delivered": f"Your message was successfully delivered to <{recipient}>.",
        "failed": f"Your message could not be delivered to <{recipient}>: {diagnostic.partition(';')[2].strip()}",
        "delayed": f"Your message to <{recipient}> could not be delivered yet; the mail system keeps trying.",
    }[action]
    per_message = [f"Reporting-MTA: dns; {reporting_mta}"]
    if envid is not None:
        per_message.append(f"Original-Envelope-Id: {envid}")
    per_message.append(f"Arrival-Date: {format_datetime(arrival)}")
    per_rcpt = []
    if orcpt:
        per_rcpt.append(f"Original-Recipient: {orcpt}")
    per_rcpt += [f"Final-Recipient: rfc822; {recipient}", f"Action: {action}", f"Status: {status}",
                 f"Diagnostic-Code: {diagnostic}", f"Last-Attempt-Date: {format_datetime(now)}"]
    if ret == "FULL":
        returned = "Content-Type: message/rfc822\r\n\r\n" + original.decode("utf-8", "replace")
    else:
        headers = original.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
        returned = "Content-Type: text/rfc822-headers\r\n\r\n" + headers.replace("\n", "\r\n") + "\r\n"
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>",
        f"To: <{sender}>",
        f"Subject: {_TITLES[action]}",
        f"Date: {format_datetime(now)}",
        f"Message-ID: {make_msgid('dsn', domain=reporting_mta)}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"This is the mail system at host {reporting_mta}.",
        "",
        human,
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        *per_message,
        "",
        *per_rcpt,
        "",
        f"--{boundary}",
        returned.rstrip("\r\n"),
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")


def start(root: Path, **kwargs: Any) -> SmtpSandbox:
    """Start a sandbox (see ``SmtpSandbox`` for the keywords) and return it; ``.stop()`` ends it."""
    return SmtpSandbox(Path(root), **kwargs).start()


# ------------------------------------------------------------------------------------------------ __main__


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mailbox_connectors.sandboxes.smtp",
                                description="Run the SMTP sandbox on loopback until interrupted.")
    p.add_argument("--root", type=Path, required=True, help="folder for the Maildirs (mailboxes/, bounces/)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: a free port")
    p.add_argument("--tls", action="store_true", help="STARTTLS with a fresh CA under ROOT/pki (ca.pem)")
    p.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD", help="AUTH user (repeatable)")
    p.add_argument("--no-dsn", action="store_true", help="do not advertise DSN")
    p.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES)
    p.add_argument("--reject", action="append", default=[], metavar="ADDRESS")
    p.add_argument("--greylist", action="append", default=[], metavar="ADDRESS")
    p.add_argument("--bounce", action="append", default=[], metavar="ADDRESS")
    p.add_argument("--stall", action="append", default=[], metavar="ADDRESS")
    a = p.parse_args(argv)
    pki = make_pki(a.root / "pki", hosts=("localhost", a.host)) if a.tls else None
    users = dict(u.split(":", 1) for u in a.user) if a.user else None
    sandbox = start(a.root, host=a.host, port=a.port, pki=pki, users=users, dsn=not a.no_dsn,
                    max_message_bytes=a.max_message_bytes)
    for address in a.reject:
        sandbox.reject(address)
    for address in a.greylist:
        sandbox.greylist(address)
    for address in a.bounce:
        sandbox.bounce(address)
    for address in a.stall:
        sandbox.stall(address)
    print(json.dumps({"host": sandbox.host, "port": sandbox.port, "ca_file": str(pki.ca_file) if pki else None,
                      "mailboxes": str(sandbox.root / "mailboxes"), "bounces": str(sandbox.bounce_maildir)}),
          flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # Waited in steps: a signal the kernel hands to the server's thread is only handled when the main thread
    # runs Python again, and a wait without a time never returns for it (the process then ignored SIGTERM).
    while not stop.wait(0.5):
        pass
    sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
