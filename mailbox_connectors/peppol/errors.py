"""The ebMS3 error codes (ebMS3 core, section 6.7) an AS4 exchange raises or answers, and how a sender treats them.

:class:`As4Error` is what the receiving side raises for anything wrong with an incoming message (the code goes
back to the sender in an ebMS Error signal); :data:`ERRORS` says, per code, its short description, whether a
sender may try again (temporary) and a sentence for the clerk.
"""
from __future__ import annotations

from dataclasses import dataclass

from erechnung.errors import ErechnungError

__all__ = ["ERRORS", "As4Error", "EbmsCode", "NOT_SERVICED"]

#: Peppol AS4 profile 2.0, section 7: the receiver does not serve this participant / document type / process.
NOT_SERVICED = "PEPPOL:NOT_SERVICED"


@dataclass(frozen=True)
class EbmsCode:
    code: str
    short: str  # the shortDescription of ebMS3 core table 6.7
    category: str  # Content, Communication, UnPackaging, Processing
    temporary: bool  # the sender may send the same message again later
    clerk: str  # what it means for the clerk


ERRORS: dict[str, EbmsCode] = {e.code: e for e in (
    EbmsCode("EBMS:0001", "ValueNotRecognized", "Content", False,
             "the receiving access point did not recognise a value of the message header"),
    EbmsCode("EBMS:0002", "FeatureNotSupported", "Content", False,
             "the receiving access point does not support a feature the message uses"),
    EbmsCode("EBMS:0003", "ValueInconsistent", "Content", False,
             "the message header and the envelope of the document do not agree"),
    EbmsCode("EBMS:0004", "Other", "Content", False, "the receiving access point refused the message"),
    EbmsCode("EBMS:0005", "ConnectionFailure", "Communication", True,
             "the receiving access point could not pass the message on for now"),
    EbmsCode("EBMS:0006", "EmptyMessagePartitionChannel", "Communication", True,
             "the receiving access point had nothing to pass on (try again later)"),
    EbmsCode("EBMS:0007", "MimeInconsistency", "UnPackaging", False,
             "the MIME structure of the message is broken"),
    EbmsCode("EBMS:0008", "FeatureNotSupported", "UnPackaging", False,
             "the message uses a packaging feature the receiving access point does not support"),
    EbmsCode("EBMS:0009", "InvalidHeader", "UnPackaging", False, "the message header is invalid"),
    EbmsCode("EBMS:0010", "ProcessingModeMismatch", "Processing", False,
             "the message does not fit the Peppol processing mode (service, action, agreement or roles)"),
    EbmsCode("EBMS:0011", "ExternalPayloadError", "Content", False, "the payload could not be taken"),
    EbmsCode("EBMS:0101", "FailedAuthentication", "Processing", False,
             "the signature of the message could not be verified (signature, certificate or signed parts)"),
    EbmsCode("EBMS:0102", "FailedDecryption", "Processing", False,
             "the receiving access point could not decrypt the message (encrypted for another certificate?)"),
    EbmsCode("EBMS:0103", "PolicyNoncompliance", "Processing", False,
             "the message's security does not follow the Peppol AS4 profile"),
    EbmsCode("EBMS:0301", "MissingReceipt", "Communication", True, "no receipt came back"),
    EbmsCode("EBMS:0302", "InvalidReceipt", "Communication", False,
             "the receipt is not signed by the access point the SMP names, or does not confirm what was sent"),
    EbmsCode("EBMS:0303", "DecompressionFailure", "Communication", False,
             "the receiving access point could not decompress the document"),
)}


class As4Error(ErechnungError):
    """Something is wrong with an AS4 message; ``code`` is the ebMS3 error code (``EBMS:0101``), ``detail`` the
    ebMS ErrorDetail (e.g. ``PEPPOL:NOT_SERVICED``), ``ref_to_message_id`` the message it answers, if known."""

    def __init__(self, code: str, reason: str, *, detail: str = "", ref_to_message_id: str | None = None) -> None:
        if code not in ERRORS:
            raise ValueError(f"unknown ebMS error code {code}")
        self.code, self.reason, self.detail, self.ref_to_message_id = code, reason, detail, ref_to_message_id
        super().__init__(f"{reason} ({code} {ERRORS[code].short}{', ' + detail if detail else ''})")
