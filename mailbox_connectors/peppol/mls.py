"""Peppol Message Level Status (MLS 1.0, Peppol eDEC): the receiving side's business-level answer to one Peppol
message, a UBL 2.1 ApplicationResponse sent back over Peppol as a message of its own.

    <ApplicationResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2">
      <cbc:CustomizationID>urn:peppol:edec:mls:1.0</cbc:CustomizationID>
      <cbc:ProfileID>urn:peppol:edec:mls</cbc:ProfileID>
      <cbc:ID>(the MLS's own id)</cbc:ID>
      <cbc:IssueDate>2026-12-06</cbc:IssueDate><cbc:IssueTime>12:00:00Z</cbc:IssueTime>
      <cac:SenderParty><cbc:EndpointID schemeID="0242">PDE000002</cbc:EndpointID></cac:SenderParty>   (seat ids)
      <cac:ReceiverParty><cbc:EndpointID schemeID="0242">PDE000001</cbc:EndpointID></cac:ReceiverParty>
      <cac:DocumentResponse>
        <cac:Response><cbc:ResponseCode>AP|AB|RE</cbc:ResponseCode><cbc:Description>...</cbc:Description></cac:Response>
        <cac:DocumentReference><cbc:ID>(the SBDH InstanceIdentifier answered)</cbc:ID></cac:DocumentReference>
        <cac:LineResponse>                                   (one per reason, for AB and RE)
          <cac:LineReference><cbc:LineID>NA</cbc:LineID></cac:LineReference>
          <cac:Response><cbc:ResponseCode>BV|BW|FD|SV</cbc:ResponseCode><cbc:Description>reason</cbc:Description>
          </cac:Response>
        </cac:LineResponse>
      </cac:DocumentResponse>
    </ApplicationResponse>

AP: accepted (delivered to the recipient); AB: accepted with warnings; RE: rejected (not delivered). Reason codes:
BV business rule violation, BW business rule warning, FD failure of delivery, SV syntax violation.
"""
from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

from ._xml import XmlRefused, parse

__all__ = ["CUSTOMIZATION", "DOCUMENT_TYPE", "MlsAnswer", "MlsError", "MlsReason", "PROCESS", "PROFILE", "build_mls",
           "parse_mls"]

NS = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CUSTOMIZATION = "urn:peppol:edec:mls:1.0"
PROFILE = "urn:peppol:edec:mls"
PROCESS = "cenbii-procid-ubl::urn:peppol:edec:mls"
DOCUMENT_TYPE = (f"busdox-docid-qns::{NS}::ApplicationResponse##{CUSTOMIZATION}::2.1")
SEAT_SCHEME = "0242"
CODES = {"AP", "AB", "RE"}
REASONS = {"BV", "BW", "FD", "SV"}
MAX_BYTES = 1024 * 1024
_N = {"a": NS, "cbc": CBC, "cac": CAC}


class MlsError(ValueError):
    """Not a Peppol MLS, or a broken one (the message says what)."""


@dataclass(frozen=True)
class MlsReason:
    code: str  # BV, BW, FD, SV
    description: str


@dataclass(frozen=True)
class MlsAnswer:
    mls_id: str
    refers_to_instance_id: str
    code: str  # AP, AB, RE
    reasons: tuple[MlsReason, ...]
    issued_at: _dt.datetime
    sender_seat: str
    receiver_seat: str
    description: str = ""

    @property
    def accepted(self) -> bool:
        return self.code in ("AP", "AB")


def _x(value: str) -> str:
    return escape(value)


def build_mls(*, refers_to_instance_id: str, code: str, sender_seat: str, receiver_seat: str, at: _dt.datetime,
              reasons: tuple[MlsReason, ...] = (), description: str = "", mls_id: str | None = None) -> bytes:
    """An MLS answer (UTF-8 XML) from the AP ``sender_seat`` to ``receiver_seat`` about one SBDH instance."""
    if code not in CODES:
        raise ValueError(f"MLS response code must be one of {sorted(CODES)}, not {code}")
    if code == "RE" and not reasons:
        raise ValueError("an MLS rejection (RE) needs at least one reason")
    for reason in reasons:
        if reason.code not in REASONS:
            raise ValueError(f"MLS reason code must be one of {sorted(REASONS)}, not {reason.code}")
    if at.tzinfo is None:
        raise ValueError("at must carry a time zone")
    at = at.astimezone(_dt.timezone.utc)
    lines = "".join(
        "<cac:LineResponse><cac:LineReference><cbc:LineID>NA</cbc:LineID></cac:LineReference>"
        f"<cac:Response><cbc:ResponseCode>{r.code}</cbc:ResponseCode><cbc:Description>{_x(r.description)}"
        "</cbc:Description></cac:Response></cac:LineResponse>" for r in reasons)
    said = f"<cbc:Description>{_x(description)}</cbc:Description>" if description else ""
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ApplicationResponse xmlns="{NS}" xmlns:cac="{CAC}" '
           f'xmlns:cbc="{CBC}"><cbc:CustomizationID>{CUSTOMIZATION}</cbc:CustomizationID>'
           f"<cbc:ProfileID>{PROFILE}</cbc:ProfileID><cbc:ID>{_x(mls_id or str(uuid.uuid4()))}</cbc:ID>"
           f"<cbc:IssueDate>{at:%Y-%m-%d}</cbc:IssueDate><cbc:IssueTime>{at:%H:%M:%S}Z</cbc:IssueTime>"
           f'<cac:SenderParty><cbc:EndpointID schemeID="{SEAT_SCHEME}">{_x(sender_seat)}</cbc:EndpointID>'
           f'</cac:SenderParty><cac:ReceiverParty><cbc:EndpointID schemeID="{SEAT_SCHEME}">{_x(receiver_seat)}'
           f"</cbc:EndpointID></cac:ReceiverParty><cac:DocumentResponse><cac:Response>"
           f"<cbc:ResponseCode>{code}</cbc:ResponseCode>{said}</cac:Response>"
           f"<cac:DocumentReference><cbc:ID>{_x(refers_to_instance_id)}</cbc:ID></cac:DocumentReference>{lines}"
           "</cac:DocumentResponse></ApplicationResponse>\n")
    return xml.encode("utf-8")


def _one(root, path: str, what: str) -> str:  # type: ignore[no-untyped-def]
    found = root.findall(path, _N)
    if len(found) != 1 or not (found[0].text or "").strip():
        raise MlsError(f"the MLS has no single {what}")
    return found[0].text.strip()


def parse_mls(xml: bytes) -> MlsAnswer:
    """Read an MLS answer; raises :class:`MlsError` for anything that is not a Peppol MLS 1.0."""
    try:
        root = parse(xml, max_bytes=MAX_BYTES, what="the MLS answer")
    except XmlRefused as exc:
        raise MlsError(str(exc)) from None
    if root.tag != f"{{{NS}}}ApplicationResponse":
        raise MlsError("the document is no UBL ApplicationResponse")
    if _one(root, "cbc:CustomizationID", "CustomizationID") != CUSTOMIZATION:
        raise MlsError(f"the ApplicationResponse is no MLS (CustomizationID is not {CUSTOMIZATION})")
    if _one(root, "cbc:ProfileID", "ProfileID") != PROFILE:
        raise MlsError(f"the MLS's ProfileID is not {PROFILE}")
    code = _one(root, "cac:DocumentResponse/cac:Response/cbc:ResponseCode", "ResponseCode")
    if code not in CODES:
        raise MlsError(f"the MLS's ResponseCode '{code[:10]}' is none of AP, AB, RE")
    date = _one(root, "cbc:IssueDate", "IssueDate")
    time = _one(root, "cbc:IssueTime", "IssueTime")
    try:
        issued = _dt.datetime.fromisoformat(f"{date}T{time}".replace("Z", "+00:00"))
    except ValueError:
        raise MlsError(f"the MLS's IssueDate/IssueTime '{date} {time}' are no date and time") from None
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=_dt.timezone.utc)
    reasons = []
    for line in root.iterfind("cac:DocumentResponse/cac:LineResponse", _N):
        reason_code = (line.findtext("cac:Response/cbc:ResponseCode", "", _N) or "").strip()
        if reason_code not in REASONS:
            raise MlsError(f"the MLS's reason code '{reason_code[:10]}' is none of {', '.join(sorted(REASONS))}")
        reasons.append(MlsReason(reason_code, (line.findtext("cac:Response/cbc:Description", "", _N) or "").strip()))
    if code == "RE" and not reasons:
        raise MlsError("the MLS rejects (RE) without giving a reason")
    return MlsAnswer(_one(root, "cbc:ID", "ID"),
                     _one(root, "cac:DocumentResponse/cac:DocumentReference/cbc:ID", "DocumentReference ID"),
                     code, tuple(reasons), issued,
                     _one(root, "cac:SenderParty/cbc:EndpointID", "SenderParty EndpointID"),
                     _one(root, "cac:ReceiverParty/cbc:EndpointID", "ReceiverParty EndpointID"),
                     (root.findtext("cac:DocumentResponse/cac:Response/cbc:Description", "", _N) or "").strip())
