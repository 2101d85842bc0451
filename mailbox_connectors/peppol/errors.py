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
    clerk: str  # what it means for the clerk, in German


ERRORS: dict[str, EbmsCode] = {e.code: e for e in (
    EbmsCode("EBMS:0001", "ValueNotRecognized", "Content", False,
             "der empfangende Access Point hat einen Wert im Nachrichtenkopf nicht erkannt"),
    EbmsCode("EBMS:0002", "FeatureNotSupported", "Content", False,
             "der empfangende Access Point unterstützt eine Funktion nicht, die die Nachricht verwendet"),
    EbmsCode("EBMS:0003", "ValueInconsistent", "Content", False,
             "Nachrichtenkopf und Umschlag des Dokuments stimmen nicht überein"),
    EbmsCode("EBMS:0004", "Other", "Content", False, "der empfangende Access Point hat die Nachricht abgelehnt"),
    EbmsCode("EBMS:0005", "ConnectionFailure", "Communication", True,
             "der empfangende Access Point konnte die Nachricht vorerst nicht weitergeben"),
    EbmsCode("EBMS:0006", "EmptyMessagePartitionChannel", "Communication", True,
             "der empfangende Access Point hatte nichts weiterzugeben (später erneut versuchen)"),
    EbmsCode("EBMS:0007", "MimeInconsistency", "UnPackaging", False,
             "die MIME-Struktur der Nachricht ist fehlerhaft"),
    EbmsCode("EBMS:0008", "FeatureNotSupported", "UnPackaging", False,
             "die Nachricht verwendet eine Verpackungsfunktion, die der empfangende Access Point nicht unterstützt"),
    EbmsCode("EBMS:0009", "InvalidHeader", "UnPackaging", False, "der Nachrichtenkopf ist ungültig"),
    EbmsCode("EBMS:0010", "ProcessingModeMismatch", "Processing", False,
             "die Nachricht passt nicht zum Peppol-Verarbeitungsmodus (Service, Action, Agreement oder Rollen)"),
    EbmsCode("EBMS:0011", "ExternalPayloadError", "Content", False, "der Inhalt konnte nicht angenommen werden"),
    EbmsCode("EBMS:0101", "FailedAuthentication", "Processing", False,
             "die Signatur der Nachricht konnte nicht geprüft werden (Signatur, Zertifikat oder signierte Teile)"),
    EbmsCode("EBMS:0102", "FailedDecryption", "Processing", False,
             "der empfangende Access Point konnte die Nachricht nicht entschlüsseln (für ein anderes Zertifikat "
             "verschlüsselt?)"),
    EbmsCode("EBMS:0103", "PolicyNoncompliance", "Processing", False,
             "die Sicherung der Nachricht folgt nicht dem Peppol-AS4-Profil"),
    EbmsCode("EBMS:0301", "MissingReceipt", "Communication", True, "es kam keine Empfangsbestätigung zurück"),
    EbmsCode("EBMS:0302", "InvalidReceipt", "Communication", False,
             "die Empfangsbestätigung ist nicht von dem Access Point signiert, den der SMP nennt, oder bestätigt "
             "nicht, was gesendet wurde"),
    EbmsCode("EBMS:0303", "DecompressionFailure", "Communication", False,
             "der empfangende Access Point konnte das Dokument nicht entpacken"),
)}


class As4Error(ErechnungError):
    """Something is wrong with an AS4 message; ``code`` is the ebMS3 error code (``EBMS:0101``), ``detail`` the
    ebMS ErrorDetail (e.g. ``PEPPOL:NOT_SERVICED``), ``ref_to_message_id`` the message it answers, if known."""

    def __init__(self, code: str, reason: str, *, detail: str = "", ref_to_message_id: str | None = None) -> None:
        if code not in ERRORS:
            raise ValueError(f"unknown ebMS error code {code}")
        self.code, self.reason, self.detail, self.ref_to_message_id = code, reason, detail, ref_to_message_id
        super().__init__(f"{reason} ({code} {ERRORS[code].short}{', ' + detail if detail else ''})")
