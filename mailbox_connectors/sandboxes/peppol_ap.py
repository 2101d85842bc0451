"""A receiving Peppol access point on loopback (Peppol AS4 profile 2.0, the "corner 3" of the four-corner model):
the endpoint URL an SMP entry names, at which a sending AP POSTs AS4 UserMessages over HTTPS.

For each message it does what a real receiving AP does: reads the MIME message, decrypts the payload with its
AP key, verifies the signature and that the sender's certificate was issued by the Peppol AP CA, decompresses,
checks the SBDH against the ebMS header, stores the document (``received``, by message id; a message id seen
before is not stored again but answered again) and answers synchronously with a signed Receipt, or with an ebMS
Error (``EBMS:0101`` bad signature, ``EBMS:0102`` not decryptable, ``EBMS:0004``/``PEPPOL:NOT_SERVICED`` ...).
With ``mls_outbox`` it also writes a Message Level Status answer per new message as a file there (that folder
is the sender's MLS inbox; AP, or RE for a receiver told to reject).

Failure modes on command: ``not_serviced(receiver)``, ``reject_mls(receiver, reason)``, and from the HTTP layer
``faults.fail(503)``, ``faults.stall(s)``, ``faults.drop()``. ``ap.cert`` is what the SMP publishes for it;
``tls_ca.root_pem`` what a client trusts for the HTTPS connection.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..peppol.as4 import (As4Error, As4Identity, InboundMessage, NOT_SERVICED, error_response, receipt_for,
                          receive_user_message)
from ..peppol.mls import MlsReason, build_mls
from ..peppol.sbdh import PARTICIPANT_SCHEME, PeppolId
from ._http import Request, Response, SandboxServer
from .peppol_pki import AP_CA, PeppolTestPKI
from .pki import TestCA

__all__ = ["PeppolApSandbox"]

log = logging.getLogger(__name__)
AS4_PATH = "/as4"


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _participant(text: str) -> str:
    return str(PeppolId.parse(text, PARTICIPANT_SCHEME)).lower()


class PeppolApSandbox(SandboxServer):
    name = "peppol-ap-sandbox"

    def __init__(self, pki: PeppolTestPKI, seat: str = "PDE000002", *, mls_outbox: Path | None = None,
                 tls_ca: TestCA | None = None, port: int = 0, max_bytes: int = 20 * 1024 * 1024,
                 clock: Callable[[], _dt.datetime] = _now, error_status: int = 200) -> None:
        self.tls_ca = tls_ca or TestCA("Peppol AP sandbox TLS root")
        super().__init__(ssl_context=self.tls_ca.server_context(), port=port)
        self.pki = pki
        self._ap = As4Identity.of(pki.issue_ap(seat))
        self.trust = (pki.root.cert, pki.ap_ca.cert)
        self.mls_outbox = mls_outbox
        self.max_bytes = max_bytes
        self.clock = clock
        self.error_status = error_status  # the HTTP status of an ebMS Error answer (APs differ: 200 or 500)
        self.received: dict[str, InboundMessage] = {}
        self.answered: dict[str, int] = {}  # message id -> how many times it was answered with a receipt
        self.refused: list[As4Error] = []  # the errors it answered with, oldest first
        self._not_serviced: set[str] = set()
        self._rejects: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def ap(self) -> As4Identity:
        """The AP's certificate and key; ``ap.cert`` goes into the SMP entry."""
        return self._ap

    @property
    def base_url(self) -> str:
        """The AS4 endpoint URL (what the SMP entry's EndpointURI says)."""
        return super().base_url + AS4_PATH

    # ---- failure modes ---------------------------------------------------------------------------------------
    def not_serviced(self, receiver: str) -> None:
        """Answer messages for ``receiver`` (``0204:...``) with EBMS:0004 PEPPOL:NOT_SERVICED."""
        with self._lock:
            self._not_serviced.add(_participant(receiver))

    def reject_mls(self, receiver: str, reason: str = "Die Rechnung verletzt eine Geschaeftsregel") -> None:
        """Take messages for ``receiver`` (receipt as usual) but answer them with an MLS rejection (RE)."""
        with self._lock:
            self._rejects[_participant(receiver)] = reason

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._not_serviced.clear()
            self._rejects.clear()

    # ---- HTTP --------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path != AS4_PATH:
            return Response.problem(404, "Not Found", f"the AS4 endpoint is {AS4_PATH}")
        if request.method != "POST":
            return Response.problem(405, "Method Not Allowed", "use POST", headers={"Allow": "POST"})
        at = self.clock()
        try:
            inbound = receive_user_message(request.header("content-type"), request.body, ap=self._ap,
                                           trust_roots=self.trust, at=at, max_bytes=self.max_bytes,
                                           ap_ca_cn=AP_CA)
        except As4Error as exc:
            log.info("%s: refused a message: %s", self.name, exc.code)
            with self._lock:
                self.refused.append(exc)
            return self._signal(*error_response(exc.code, exc.reason, at=at, seat=self._ap.seat,
                                                ref_to_message_id=exc.ref_to_message_id, detail=exc.detail),
                                status=self.error_status)
        receiver = inbound.receiver.lower()
        with self._lock:
            refused = receiver in self._not_serviced
            reject = self._rejects.get(receiver)
            duplicate = inbound.message_id in self.received
            if not refused:
                if not duplicate:
                    self.received[inbound.message_id] = inbound
                self.answered[inbound.message_id] = self.answered.get(inbound.message_id, 0) + 1
        if refused:
            return self._signal(*error_response(
                "EBMS:0004", f"the receiver {inbound.receiver} is not served by this access point for "
                f"{inbound.document_type}", at=at, seat=self._ap.seat, ref_to_message_id=inbound.message_id,
                detail=NOT_SERVICED), status=self.error_status)
        if not duplicate and self.mls_outbox is not None:
            self._write_mls(inbound, reject, at)
        return self._signal(*receipt_for(inbound, self._ap, at))

    @staticmethod
    def _signal(content_type: str, body: bytes, status: int = 200) -> Response:
        return Response(status, body, {"Content-Type": content_type})

    def _write_mls(self, inbound: InboundMessage, reject: str | None, at: _dt.datetime) -> None:
        assert self.mls_outbox is not None
        reasons = (MlsReason("BV", reject),) if reject else ()
        xml = build_mls(refers_to_instance_id=inbound.envelope.instance_id, code="RE" if reject else "AP",
                        sender_seat=self._ap.seat, receiver_seat=inbound.from_seat, at=at, reasons=reasons)
        self.mls_outbox.mkdir(parents=True, exist_ok=True)
        name = f"mls-{inbound.envelope.instance_id}.xml"
        tmp = self.mls_outbox / f".{name}.tmp"
        tmp.write_bytes(xml)
        os.replace(tmp, self.mls_outbox / name)
