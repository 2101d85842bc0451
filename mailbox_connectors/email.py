"""Email channel: one invoice per mail over SMTP with STARTTLS and AUTH; delivery reports read from a Maildir.

    settings = EmailSettings(host="smtp.musterstadt.example", sender="rechnung@musterstadt.example",
                             sender_name="Stadt Musterstadt, Stadtkasse", username="rechnung",
                             password_env="ERECHNUNG_SMTP_PASSWORD", ca_file=Path("/etc/erechnung/smtp-ca.pem"),
                             bounce_maildir=Path("/var/mail/erechnung-bounces"))
    with EmailConnector(settings) as email:
        receipt = email.send(delivery)           # one SMTP session is reused for the next sends
        events = email.collect_events(since)     # DSNs (RFC 3464) -> delivered / delayed / failed

What it keeps to (shared/docs/channels.md, sections 4, 6 and 8):

* **one invoice per mail**: every ``send`` is one message to exactly one recipient (one ``RCPT TO``) with exactly
  one attachment, the XRechnung XML or the ZUGFeRD PDF as it is, and a short German text;
* **no notice as an attachment**: a Bescheid may not travel as a plain email attachment, so for a notice the mail
  is only the notification that it waits in a postbox: the notice's bytes never enter the message, whatever the
  caller passes (``Receipt.notification_only`` is then True);
* **size**: the whole message at most ``max_bytes`` (10 MB by default, as the federal invoice platform takes);
  a larger one is refused with ``PermanentFailure`` before anything is sent. ``capabilities.max_bytes`` is the
  largest document that fits once base64 encoded;
* **TLS**: STARTTLS is required (a server that does not offer it gets nothing) and the certificate is verified
  against ``ca_file`` (or the system's CAs) and the host name; then AUTH when a user is configured;
* **delivery reports**: DSN (RFC 3461) is requested only when the server advertises ``DSN``:
  ``MAIL FROM ... RET=HDRS ENVID=<delivery id>`` and ``RCPT TO ... NOTIFY=SUCCESS,FAILURE,DELAY
  ORCPT=rfc822;<address>``. The reports (``multipart/report; report-type=delivery-status``) land in the
  sender's bounce mailbox, read here as a Maildir (``bounce_maildir``); ``Original-Envelope-Id`` names the
  delivery (for reports without it, the returned ``X-Erechnung-Delivery-Id`` header does);
* **errors**: SMTP 4xx, timeouts, lost connections, an unreachable server -> ``TemporaryFailure``; 5xx ->
  ``PermanentFailure``. A refused login and an untrusted server certificate are configuration faults that no
  other recipient's channel should pay for: they are ``TemporaryFailure`` too, with a reason that says what to
  fix. After a timeout once the message was sent, the mail may still arrive: the reason says so, and a retry
  sends the same ``Message-ID`` (it is derived from the delivery id);
* **secrets and personal data**: the password is read from the environment or a file when logging in, is not
  kept in the settings, and appears in no log, exception or evidence; logs name the delivery id, sizes and SMTP
  codes, never addresses, subjects or texts. The evidence (the SMTP transcript without AUTH data, the message
  summarised by size and sha256) does hold the recipient's address: it is the proof of sending.

The connector is not meant to be shared between threads (a lock keeps one session's commands in order);
give each worker its own.
"""
from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import logging
import os
import quopri
import re
import secrets
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.message import Message
from email.utils import encode_rfc2231, format_datetime, formataddr, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

from erechnung.model.delivery import Channel, DeliveryFormat
from erechnung.model.documents import DocumentKind

from .base import (
    Capabilities, Delivery, DeliveryError, EventState, MailboxConnector, PermanentFailure, Receipt, StatusEvent,
    TemporaryFailure, since_filter, size_text,
)
from .registry import entry

__all__ = ["EmailConnector", "EmailSettings", "delivery_status_events", "xtext"]

log = logging.getLogger(__name__)

CHANNEL = Channel.EMAIL
DEFAULT_MAX_BYTES = 10_000_000
DELIVERY_HEADER = "X-Erechnung-Delivery-Id"
_OVERHEAD = 16_384  # headers, text part and MIME framing, generously
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")

_INVOICE_TEXT = {
    DocumentKind.INVOICE: "im Anhang erhalten Sie Ihre Rechnung",
    DocumentKind.CREDIT_NOTE: "im Anhang erhalten Sie Ihre Gutschrift",
}
_FORMAT_TEXT = {DeliveryFormat.XRECHNUNG: "als elektronische Rechnung im Format XRechnung (XML)",
                DeliveryFormat.ZUGFERD: "als elektronische Rechnung im Format ZUGFeRD (PDF mit eingebetteten Daten)"}
NOTICE_TEXT = ("Guten Tag,\n\nfür Sie liegt ein Bescheid zum Abruf in Ihrem elektronischen Postfach bereit. "
               "Bitte melden Sie sich dort an und rufen Sie ihn ab.")
NOTICE_FOOTER = ("Der Bescheid selbst ist dieser E-Mail nicht beigefügt: Bescheide stellen wir nur über Ihr "
                 "Postfach oder per Post zu.")
AUTOMATIC = "Diese E-Mail wurde automatisch erstellt."

# What an enhanced status code (RFC 3463, subject.detail) means, for the clerk (in German).
_STATUS_TEXT = {
    "1.1": "das Postfach des Empfängers gibt es nicht",
    "1.2": "die E-Mail-Domain des Empfängers gibt es nicht",
    "1.3": "die Adresse des Empfängers ist keine gültige E-Mail-Adresse",
    "1.10": "die Domain des Empfängers nimmt keine E-Mails an",
    "2.1": "das Postfach des Empfängers ist gesperrt",
    "2.2": "das Postfach des Empfängers ist voll",
    "2.3": "die Nachricht ist größer, als das Postfach des Empfängers annimmt",
    "3.4": "die Nachricht ist größer, als der Mailserver annimmt",
    "4.1": "der Mailserver des Empfängers hat nicht geantwortet",
    "4.2": "die Verbindung zum Mailserver des Empfängers ist abgebrochen",
    "4.4": "der Mailserver des Empfängers wurde nicht gefunden",
    "4.7": "die Zustellfrist ist abgelaufen",
    "7.1": ("der Mailserver des Empfängers hat die Nachricht abgelehnt (Richtlinie; Greylisting, wenn "
            "vorübergehend)"),
    "7.8": "der Mailserver hat die Anmeldung abgelehnt",
}


def xtext(text: str) -> str:
    """``text`` as RFC 3461 xtext: characters outside ``!``..``~``, ``+`` and ``=`` become ``+HH``."""
    return "".join(c if 33 <= ord(c) <= 126 and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode())
                   for c in text)


_TEXT_HEADERS = ("Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable")


def _header(name: str, value: str) -> str:
    """``Name: value``, RFC 2047 encoded where not ASCII, folded below 78 characters."""
    charset = "us-ascii" if value.isascii() else "utf-8"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep="\r\n")


def _param(name: str, value: str) -> str:
    """A MIME parameter: quoted where ASCII, else RFC 2231 (``name*=utf-8''...``)."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'{name}="{value}"'
    return f"{name}*={encode_rfc2231(value, 'utf-8')}"


def _qp(text: str) -> str:
    """``text`` quoted-printable (UTF-8) with CRLF line ends."""
    return quopri.encodestring(text.replace("\r\n", "\n").encode("utf-8")).decode("ascii").replace("\n", "\r\n")


def _status_text(status: str | None, fallback: str) -> str:
    if status:
        m = _ENHANCED.match(status)
        if m and (text := _STATUS_TEXT.get(f"{m.group(2)}.{m.group(3)}")):
            return text
    return fallback


@dataclass(frozen=True)
class EmailSettings:
    """Where and how mail is sent. The password is not here: it is read from ``password_env`` or
    ``password_file`` when logging in."""

    host: str
    sender: str  # envelope sender and From: address (the bounce mailbox belongs to it)
    port: int = 587
    sender_name: str = ""
    reply_to: str | None = None
    username: str | None = None  # None: no AUTH
    password_env: str | None = "ERECHNUNG_SMTP_PASSWORD"
    password_file: Path | None = None  # read when password_env is unset or empty
    ca_file: Path | None = None  # None: the system's CAs
    require_tls: bool = True  # False only for a loopback test server without TLS
    timeout: float = 30.0  # seconds for connect and for every reply
    max_bytes: int = DEFAULT_MAX_BYTES  # the whole message
    request_dsn: bool = True  # request DSNs where the server advertises DSN
    bounce_maildir: Path | None = None  # the sender's mailbox the delivery reports arrive in
    helo_name: str | None = None  # default: the local host's FQDN
    messages_per_session: int = 1000  # then QUIT and a new session

    def password(self) -> str | None:
        if self.password_env and os.environ.get(self.password_env):
            return os.environ[self.password_env]
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        return None


class _Session:
    """One SMTP connection: the smtplib client and the transcript of its opening (greeting, TLS, EHLO, AUTH)."""

    def __init__(self, smtp: smtplib.SMTP, opening: list[str]) -> None:
        self.smtp, self.opening, self.sent = smtp, opening, 0

    @property
    def dsn(self) -> bool:
        return self.smtp.has_extn("dsn")

    @property
    def size(self) -> bool:
        return self.smtp.has_extn("size")


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} " + " ".join(text.split())


class EmailConnector(MailboxConnector):
    """The email channel (see the module docstring)."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self._session: _Session | None = None
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._parsed: dict[tuple[str, int], list[StatusEvent]] = {}  # bounce Maildir file -> its events
        doc_limit = max(0, (settings.max_bytes - _OVERHEAD) * 57 // 78)  # base64: 57 bytes -> 76 chars + CRLF
        self._capabilities = entry(CHANNEL).accepts.capabilities(CHANNEL, doc_limit)
        self._kinds_and_formats = replace(self._capabilities, max_bytes=None)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # ------------------------------------------------------------------------------------------- send

    def send(self, delivery: Delivery) -> Receipt:
        refusal = self._kinds_and_formats.refusal(delivery)  # the size is checked on the whole mail below
        if refusal:
            raise PermanentFailure(refusal, channel=CHANNEL, delivery_id=delivery.delivery_id)
        address = delivery.address.strip()
        if not _ADDRESS.fullmatch(address):
            raise PermanentFailure("die E-Mail-Adresse des Empfängers ist nicht genau eine gültige Adresse (genau ein "
                                   "Empfänger je E-Mail)", channel=CHANNEL, delivery_id=delivery.delivery_id)
        message, message_id = self.compose(delivery)
        if len(message) > self.settings.max_bytes and delivery.kind is not DocumentKind.NOTICE:
            raise PermanentFailure(
                f"die E-Mail hätte {size_text(len(message))} (das Dokument {size_text(delivery.size)}, Base64-"
                f"kodiert); höchstens {size_text(self.settings.max_bytes)} je E-Mail dürfen versandt werden: über "
                f"einen anderen Kanal zustellen", channel=CHANNEL, delivery_id=delivery.delivery_id)
        with self._lock:
            return self._send(delivery, address, message, message_id)

    def compose(self, delivery: Delivery) -> tuple[bytes, str]:
        """The message for ``delivery`` (bytes with CRLF) and its Message-ID. A notice is never attached.

        Written out here rather than with ``email.message.EmailMessage``, which spends about 2 ms per message on
        header objects; the result is plain MIME: ``multipart/mixed`` with a quoted-printable UTF-8 text and one
        base64 attachment, or for a notice the text alone."""
        s = self.settings
        domain = s.sender.rpartition("@")[2]
        message_id = f"<{hashlib.sha256(delivery.delivery_id.encode()).hexdigest()[:32]}.erechnung@{domain}>"
        head = [
            _header("From", formataddr((s.sender_name, s.sender), charset="utf-8") if s.sender_name else s.sender),
            f"To: {delivery.address.strip()}",
            *([f"Reply-To: {s.reply_to}"] if s.reply_to else []),
            _header("Subject", " ".join(delivery.subject.split())),
            f"Date: {format_datetime(datetime.now(timezone.utc))}",
            f"Message-ID: {message_id}",
            "Auto-Submitted: auto-generated",
            f"{DELIVERY_HEADER}: {delivery.delivery_id}",
            "MIME-Version: 1.0",
        ]
        if delivery.kind is DocumentKind.NOTICE:
            text = (delivery.body.strip() or NOTICE_TEXT) + "\n\n" + NOTICE_FOOTER + "\n\n" + AUTOMATIC + "\n"
            parts = [*head, *_TEXT_HEADERS, "", _qp(text)]
        else:
            text = (delivery.body.strip() or
                    f"Guten Tag,\n\n{_INVOICE_TEXT[delivery.kind]} {_FORMAT_TEXT[delivery.format]} in der Datei "
                    f"{delivery.filename}.") + "\n\n" + AUTOMATIC + "\n"
            boundary = f"=_erechnung_{secrets.token_hex(12)}"
            media_type = delivery.media_type if re.fullmatch(r"[\w.+-]+/[\w.+-]+", delivery.media_type) \
                else "application/octet-stream"
            parts = [*head, f'Content-Type: multipart/mixed; boundary="{boundary}"', "",
                     "This is a MIME message.", f"--{boundary}", *_TEXT_HEADERS, "", _qp(text), f"--{boundary}",
                     f"Content-Type: {media_type}; {_param('name', delivery.filename)}",
                     f"Content-Disposition: attachment; {_param('filename', delivery.filename)}",
                     "Content-Transfer-Encoding: base64", "",
                     base64.encodebytes(delivery.content).decode("ascii").replace("\n", "\r\n").rstrip("\r\n"),
                     f"--{boundary}--"]
        return ("\r\n".join(parts) + "\r\n").encode("ascii"), message_id

    def _send(self, delivery: Delivery, address: str, message: bytes, message_id: str) -> Receipt:
        did = delivery.delivery_id
        fresh = self._session is None
        session = self._connect(did) if fresh else self._session
        assert session is not None
        try:
            return self._transaction(session, delivery, address, message, message_id)
        except _StaleSession:
            if fresh:
                raise TemporaryFailure("der Mailserver hat die Verbindung beendet, bevor die Nachricht versandt war",
                                       channel=CHANNEL, delivery_id=did) from None
            log.info("delivery %s: the reused SMTP session was closed by the server; opening a new one", did)
            return self._transaction(self._connect(did), delivery, address, message, message_id)

    def _transaction(self, session: _Session, delivery: Delivery, address: str, message: bytes,
                     message_id: str) -> Receipt:
        did = delivery.delivery_id
        smtp = session.smtp
        transcript = list(session.opening)
        transcript.append(f"-- transaction {session.sent + 1} of this session")
        mail_opts: list[str] = []
        rcpt_opts: list[str] = []
        if session.size:
            mail_opts.append(f"SIZE={len(message)}")
        dsn = self.settings.request_dsn and session.dsn
        if dsn:
            mail_opts += ["RET=HDRS", f"ENVID={xtext(did)}"]
            rcpt_opts += ["NOTIFY=SUCCESS,FAILURE,DELAY", f"ORCPT=rfc822;{xtext(address)}"]
        step = "MAIL"
        try:
            transcript.append(f"C: MAIL FROM:<{self.settings.sender}>" + "".join(" " + o for o in mail_opts))
            code, text = smtp.mail(self.settings.sender, mail_opts)
            transcript.append("S: " + _reply(code, text))
            if code != 250:
                self._refused(session, delivery, "MAIL", code, text, transcript)
            step = "RCPT"
            transcript.append(f"C: RCPT TO:<{address}>" + "".join(" " + o for o in rcpt_opts))
            code, text = smtp.rcpt(address, rcpt_opts)
            transcript.append("S: " + _reply(code, text))
            if code not in (250, 251):
                self._refused(session, delivery, "RCPT", code, text, transcript)
            step = "DATA"
            transcript.append(f"C: DATA ({len(message)} bytes, sha256 {hashlib.sha256(message).hexdigest()}, "
                              f"Message-ID {message_id}, document sha256 "
                              f"{'not attached' if delivery.kind is DocumentKind.NOTICE else delivery.sha256})")
            try:
                code, text = smtp.data(message)
            except smtplib.SMTPDataError as e:  # no 354 after DATA
                transcript.append("S: " + _reply(e.smtp_code, e.smtp_error))
                self._refused(session, delivery, "DATA", e.smtp_code, e.smtp_error, transcript)
            transcript.append("S: " + _reply(code, text))
            if code != 250:
                self._refused(session, delivery, "DATA", code, text, transcript)
        except smtplib.SMTPServerDisconnected as e:
            self._drop()
            timed_out = isinstance(e.__context__, TimeoutError)  # smtplib turns a read timeout into this
            if not timed_out:
                if step == "MAIL" and session.sent > 0:
                    raise _StaleSession() from None
                raise TemporaryFailure(self._lost(step), channel=CHANNEL, delivery_id=did,
                                       evidence=_evidence(transcript + ["-- connection lost"])) from None
            raise self._timeout(did, step, transcript) from None
        except TimeoutError:
            self._drop()
            raise self._timeout(did, step, transcript) from None
        except OSError as e:
            self._drop()
            if step == "MAIL" and session.sent > 0:
                raise _StaleSession() from None
            raise TemporaryFailure(f"die Verbindung zum Mailserver ist bei {step} gescheitert ({type(e).__name__})",
                                   channel=CHANNEL, delivery_id=did,
                                   evidence=_evidence(transcript + ["-- connection failed"])) from None
        session.sent += 1
        if session.sent >= self.settings.messages_per_session:
            _quit(session.smtp)
            self._session = None
        accepted = datetime.now(timezone.utc)
        log.info("delivery %s: accepted by the mail server (%d bytes, delivery report %s)", did, len(message),
                 "requested" if dsn else "not offered by the server")
        return Receipt(delivery_id=did, channel=CHANNEL, channel_message_id=message_id, accepted_at=accepted,
                       evidence=_evidence(transcript), notification_only=delivery.kind is DocumentKind.NOTICE)

    def _timeout(self, did: str, step: str, transcript: list[str]) -> TemporaryFailure:
        log.warning("delivery %s: the mail server did not answer within %g s (%s)", did, self.settings.timeout, step)
        return TemporaryFailure(
            f"der Mailserver hat nicht innerhalb von {self.settings.timeout:g} s geantwortet ({step})"
            + ("; die E-Mail kann noch ankommen, ein erneuter Versand kann sie doppelt zustellen" if step == "DATA"
               else ""),
            channel=CHANNEL, delivery_id=did, evidence=_evidence(transcript + ["-- timeout"]))

    @staticmethod
    def _lost(step: str) -> str:
        if step == "DATA":
            return "der Mailserver hat die Verbindung während DATA beendet; die E-Mail kann noch ankommen"
        return f"der Mailserver hat die Verbindung beendet ({step})"

    def _refused(self, session: _Session, delivery: Delivery, step: str, code: int, text: bytes | str,
                 transcript: list[str]) -> None:
        reply = _reply(code, text)
        m = _ENHANCED.match(reply.partition(" ")[2])
        status = m.group(0) if m else None
        where = {"MAIL": "the sender", "RCPT": "the recipient", "DATA": "the message"}[step]  # for the log
        what = {"MAIL": "den Absender", "RCPT": "den Empfänger", "DATA": "die Nachricht"}[step]
        try:
            transcript.append("C: RSET")
            rcode, rtext = session.smtp.rset()
            transcript.append("S: " + _reply(rcode, rtext))
        except (smtplib.SMTPException, OSError):
            self._drop()
        full_code = f"{code}" + (f" {status}" if status else "")
        log.warning("delivery %s: the mail server refused %s with %s", delivery.delivery_id, where, full_code)
        if 400 <= code < 500:
            reason = _status_text(status, f"der Mailserver hat {what} vorerst abgelehnt")
            raise TemporaryFailure(f"{reason}; später erneut versuchen", channel=CHANNEL,
                                   delivery_id=delivery.delivery_id, code=full_code, evidence=_evidence(transcript))
        reason = _status_text(status or ("5.3.4" if code == 552 else None), f"der Mailserver hat {what} abgelehnt")
        raise PermanentFailure(f"{reason}; über einen anderen Kanal zustellen", channel=CHANNEL,
                               delivery_id=delivery.delivery_id, code=full_code, evidence=_evidence(transcript))

    # ------------------------------------------------------------------------------------------- session

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            ca = self.settings.ca_file
            self._tls = ssl.create_default_context(cafile=str(ca) if ca else None)
        return self._tls

    def _connect(self, did: str) -> _Session:
        s = self.settings
        opening = [f"-- connect {s.host}:{s.port} at {datetime.now(timezone.utc).isoformat(timespec='seconds')}"]
        smtp: smtplib.SMTP | None = None
        step = "connect"
        try:
            smtp = smtplib.SMTP(timeout=s.timeout, local_hostname=s.helo_name or _fqdn())
            smtp._host = s.host  # the name STARTTLS verifies the certificate against (smtplib sets it only in __init__)
            code, text = smtp.connect(s.host, s.port)
            opening.append("S: " + _reply(code, text))
            if smtp.sock is not None:  # a command or the message's last bytes must not wait for a delayed ACK
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if code != 220:
                raise TemporaryFailure(f"der Mailserver hat nicht gegrüßt ({code})", channel=CHANNEL, delivery_id=did,
                                       code=str(code), evidence=_evidence(opening))
            step = "EHLO"
            code, text = smtp.ehlo()
            opening.append(f"C: EHLO\nS: {_reply(code, text)}")
            if code != 250:
                raise TemporaryFailure("der Mailserver spricht kein ESMTP (EHLO abgelehnt)", channel=CHANNEL,
                                       delivery_id=did, code=str(code), evidence=_evidence(opening))
            if s.require_tls:
                if not smtp.has_extn("starttls"):
                    raise TemporaryFailure("der Mailserver bietet kein STARTTLS an; unverschlüsselt wird nichts "
                                           "versandt: die Einstellungen des Mailservers prüfen", channel=CHANNEL,
                                           delivery_id=did, evidence=_evidence(opening))
                step = "STARTTLS"
                code, text = smtp.starttls(context=self._tls_context())
                sock = smtp.sock
                assert isinstance(sock, ssl.SSLSocket)
                cert = sock.getpeercert(binary_form=True) or b""
                opening.append(f"C: STARTTLS\nS: {_reply(code, text)}\n-- TLS {sock.version()} {sock.cipher()[0]}, "
                               f"server certificate sha256 {hashlib.sha256(cert).hexdigest()} verified")
                step = "EHLO"
                code, text = smtp.ehlo()
                opening.append(f"C: EHLO\nS: {_reply(code, text)}")
            if s.username:
                step = "AUTH"
                password = s.password()
                if password is None:
                    raise TemporaryFailure(f"kein SMTP-Passwort konfiguriert ({s.password_env or 'password_env'} "
                                           "oder password_file setzen)", channel=CHANNEL, delivery_id=did)
                try:
                    code, text = smtp.login(s.username, password)
                finally:
                    password = None  # noqa: F841 (not kept)
                opening.append(f"C: AUTH (user {s.username}, credentials not recorded)\nS: {_reply(code, text)}")
        except DeliveryError:
            _quit(smtp)
            raise
        except smtplib.SMTPAuthenticationError as e:
            _quit(smtp)
            opening.append(f"C: AUTH (user {s.username}, credentials not recorded)\nS: "
                           f"{_reply(e.smtp_code, e.smtp_error)}")
            log.warning("delivery %s: the mail server refused the login (%s)", did, e.smtp_code)
            raise TemporaryFailure("der Mailserver hat die Anmeldung abgelehnt: SMTP-Benutzer und -Passwort prüfen",
                                   channel=CHANNEL, delivery_id=did, code=str(e.smtp_code),
                                   evidence=_evidence(opening)) from None
        except ssl.SSLCertVerificationError as e:
            _quit(smtp)
            log.warning("delivery %s: the mail server's certificate is not trusted (%s)", did, e.verify_message)
            raise TemporaryFailure(f"dem Zertifikat des Mailservers wird nicht vertraut ({e.verify_message}); nichts "
                                   f"wurde versandt: die CA-Datei in den Mail-Einstellungen prüfen", channel=CHANNEL,
                                   delivery_id=did, evidence=_evidence(opening + ["-- certificate not trusted"])) from None
        except smtplib.SMTPNotSupportedError:
            _quit(smtp)
            raise TemporaryFailure("der Mailserver bietet keine Anmeldung (AUTH) an, obwohl ein Benutzer "
                                   "konfiguriert ist",
                                   channel=CHANNEL, delivery_id=did, evidence=_evidence(opening)) from None
        except (smtplib.SMTPException, OSError) as e:
            _quit(smtp)
            timed_out = isinstance(e, TimeoutError) or isinstance(e.__context__, TimeoutError)
            what = f"did not answer within {s.timeout:g} s ({step})" if timed_out else f"could not be reached ({step})"
            log.warning("delivery %s: the mail server %s: %s", did, what, type(e).__name__)
            said = (f"hat nicht innerhalb von {s.timeout:g} s geantwortet ({step})" if timed_out
                    else f"ist nicht erreichbar ({step})")
            raise TemporaryFailure(f"der Mailserver {said}", channel=CHANNEL, delivery_id=did,
                                   evidence=_evidence(opening + [f"-- {type(e).__name__} during {step}"])) from None
        self._session = _Session(smtp, opening)
        return self._session

    def _drop(self) -> None:
        if self._session is not None:
            try:
                self._session.smtp.close()
            finally:
                self._session = None

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                _quit(self._session.smtp)
                self._session = None

    # ------------------------------------------------------------------------------------------- events

    def collect_events(self, since: datetime | None = None) -> list[StatusEvent]:
        """The delivery reports in the bounce Maildir (``new`` and ``cur``; files are left where they are), in the
        order they arrived. Files written more than a day before ``since`` are not read (their reports are older);
        a file read once is not parsed again by this connector (Maildir files do not change, only their flags)."""
        folder = self.settings.bounce_maildir
        if folder is None:
            return []
        floor = (since - timedelta(days=1)).timestamp() if since is not None else None
        entries = [e for sub in ("new", "cur") if (folder / sub).is_dir() for e in os.scandir(folder / sub)]
        events: list[StatusEvent] = []
        for entry in sorted(entries, key=lambda e: e.name):  # Maildir names start with the delivery time
            try:
                stat = entry.stat()
                delivered = maildir_delivery_time(entry.name, stat.st_mtime)
                if floor is not None and delivered < floor:
                    continue
                key = (entry.name.partition(":")[0], stat.st_size)
                parsed = self._parsed.get(key)
                if parsed is None:
                    raw = Path(entry.path).read_bytes()
                    parsed = self._parsed[key] = delivery_status_events(
                        raw, received_at=datetime.fromtimestamp(delivered, timezone.utc))
            except FileNotFoundError:  # moved by a mail reader meanwhile
                continue
            events.extend(parsed)
        return since_filter(events, since)


def maildir_delivery_time(name: str, mtime: float) -> float:
    """When the MTA delivered a Maildir file (POSIX seconds): the leading ``<seconds>[.<fraction>]`` of its name,
    which the Maildir convention gives every file at delivery (by the delivering MTA's clock, which also stamped
    the report), else the file's modification time."""
    head = name.partition(".")[0]
    if head.isdigit():
        fraction = name[len(head) + 1:].partition(".")[0]
        return float(f"{head}.{fraction}") if fraction.isdigit() else float(head)
    return mtime


@lru_cache(maxsize=1)
def _fqdn() -> str:
    return socket.getfqdn()


class _StaleSession(Exception):
    """A reused session turned out closed before anything of this message was sent."""


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _evidence(lines: Iterable[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------------- DSN reading

_ACTIONS = {"failed": EventState.FAILED, "delayed": EventState.DELAYED, "delivered": EventState.DELIVERED,
            "relayed": EventState.DELIVERED, "expanded": EventState.DELIVERED}


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = parsedate_to_datetime(str(value).strip())
    except (TypeError, ValueError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _returned_delivery_id(report: Message) -> str | None:
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype == "text/rfc822-headers":
            payload = part.get_payload(decode=True) or b""
            headers = email.message_from_bytes(payload, policy=email.policy.compat32)
            if headers.get(DELIVERY_HEADER):
                return str(headers[DELIVERY_HEADER]).strip()
        elif ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message) and inner.get(DELIVERY_HEADER):
                return str(inner[DELIVERY_HEADER]).strip()
    return None


def delivery_status_events(raw: bytes, *, received_at: datetime | None = None) -> list[StatusEvent]:
    """The status events in one mail of the bounce mailbox: one per recipient block of an RFC 3464 report that
    names one of our deliveries (``Original-Envelope-Id``, else the returned ``X-Erechnung-Delivery-Id``);
    nothing for other mail. The evidence of each is the whole report, as received."""
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    if report.get_content_type() != "multipart/report" or \
            (report.get_param("report-type") or "").lower() != "delivery-status":
        return []
    status_part = next((p for p in report.walk() if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        return []
    blocks = status_part.get_payload()
    if not isinstance(blocks, list) or not blocks:
        return []
    per_message, recipients = blocks[0], blocks[1:]
    delivery_id = (str(per_message.get("Original-Envelope-Id") or "").strip() or _returned_delivery_id(report))
    if not delivery_id:
        return []
    digest = hashlib.sha256(raw).hexdigest()[:32]
    reported = _date(report.get("Date")) or received_at or datetime.now(timezone.utc)
    events = []
    for i, block in enumerate(recipients):
        action = str(block.get("Action") or "").strip().lower()
        state = _ACTIONS.get(action)
        if state is None:
            continue
        status = str(block.get("Status") or "").strip()
        at = _date(block.get("Last-Attempt-Date")) or reported
        if action == "relayed":
            reason = ("an ein Mailsystem ohne Zustellberichte weitergegeben (soweit erkennbar zugestellt)")
        elif state is EventState.DELIVERED:
            reason = "in das Postfach des Empfängers zugestellt"
        elif state is EventState.DELAYED:
            reason = "noch nicht zugestellt; " + _status_text(status, "das Mailsystem versucht es weiter")
        else:
            reason = "nicht zugestellt: " + _status_text(status, "der Mailserver des Empfängers hat die Nachricht "
                                                                 "abgelehnt")
        if status:
            reason += f" ({status})"
        events.append(StatusEvent(event_id=f"dsn:{digest}:{i}", delivery_id=delivery_id, channel=CHANNEL, state=state,
                                  at=at, evidence=raw, evidence_type="message/rfc822", reason=reason))
    return events
