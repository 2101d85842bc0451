"""The Standard Business Document Header around a Peppol business document (Peppol Business Message Envelope
(SBDH) specification 2.0, UN/CEFACT SBDH 1.3).

    <StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader">
      <StandardBusinessDocumentHeader>
        <HeaderVersion>1.0</HeaderVersion>
        <Sender><Identifier Authority="iso6523-actorid-upis">9930:de123456789</Identifier></Sender>
        <Receiver><Identifier Authority="iso6523-actorid-upis">0204:991-12345-67</Identifier></Receiver>
        <DocumentIdentification>
          <Standard>urn:oasis:names:specification:ubl:schema:xsd:Invoice-2</Standard>   (root namespace)
          <TypeVersion>2.1</TypeVersion>
          <InstanceIdentifier>(a UUID)</InstanceIdentifier>
          <Type>Invoice</Type>                                                          (root local name)
          <CreationDateAndTime>2026-12-06T12:00:00Z</CreationDateAndTime>
        </DocumentIdentification>
        <BusinessScope>
          <Scope><Type>DOCUMENTID</Type><InstanceIdentifier>(doctype id)</InstanceIdentifier>
                 <Identifier>busdox-docid-qns</Identifier></Scope>
          <Scope><Type>PROCESSID</Type><InstanceIdentifier>(process id)</InstanceIdentifier>
                 <Identifier>cenbii-procid-ubl</Identifier></Scope>
          <Scope><Type>COUNTRY_C1</Type><InstanceIdentifier>DE</InstanceIdentifier></Scope>
        </BusinessScope>
      </StandardBusinessDocumentHeader>
      <Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">...</Invoice>
    </StandardBusinessDocument>

:func:`wrap` puts the document's own bytes behind the header unchanged (only its XML declaration goes), so the
document in the envelope is byte for byte the one archived; :func:`unwrap` reads an envelope back, checks it and
returns the payload as a document of its own.

Identifiers may be given with or without their scheme (``iso6523-actorid-upis::9930:de1``,
``busdox-docid-qns::urn:...``, ``cenbii-procid-ubl::urn:...``); :class:`PeppolId` keeps the two apart.
"""
from __future__ import annotations

import datetime as _dt
import re
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree

from ._xml import XmlRefused, parse
from .identifiers import DOCTYPE_SCHEME, PARTICIPANT_SCHEME, PROCESS_SCHEME

__all__ = ["PARTICIPANT_SCHEME", "DOCTYPE_SCHEME", "PROCESS_SCHEME", "NS", "Envelope", "EnvelopeError", "PeppolId",
           "unwrap", "wrap"]

NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
_H = f"{{{NS}}}"
_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*\?>\s*")
MAX_BYTES = 50 * 1024 * 1024


class EnvelopeError(ValueError):
    """The SBDH envelope is broken or does not fit its document (the message says what)."""


@dataclass(frozen=True)
class PeppolId:
    """An identifier with its scheme: ``PeppolId("iso6523-actorid-upis", "9930:de123456789")``."""

    scheme: str
    value: str

    @classmethod
    def parse(cls, text: str, default_scheme: str) -> PeppolId:
        scheme, sep, value = text.partition("::")
        if not sep:
            scheme, value = default_scheme, text
        if not value or not scheme:
            raise ValueError(f"'{text}' is no Peppol identifier (scheme::value)")
        return cls(scheme, value)

    def __str__(self) -> str:
        return f"{self.scheme}::{self.value}"


@dataclass(frozen=True)
class Envelope:
    """What an SBDH says about its document."""

    sender: PeppolId
    receiver: PeppolId
    document_type: PeppolId
    process: PeppolId
    instance_id: str  # DocumentIdentification/InstanceIdentifier (the id an MLS answer refers to)
    standard: str  # the payload's root namespace
    type: str  # the payload's root local name
    created_at: _dt.datetime
    country: str = "DE"


def _root_name(document: bytes) -> tuple[str, str]:
    try:
        root = parse(document, max_bytes=MAX_BYTES, what="the document")
    except XmlRefused as exc:
        raise EnvelopeError(str(exc)) from None
    qname = etree.QName(root)
    if not qname.namespace:
        raise EnvelopeError("the document's root element has no namespace (a UBL document has)")
    if any(isinstance(e.tag, str) and not e.tag.startswith("{") for e in root.iter()):
        # behind the SBDH's default namespace such an element would change its name
        raise EnvelopeError("the document has elements without a namespace (a UBL document has none)")
    return qname.namespace, qname.localname


def _text(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def wrap(document: bytes, *, sender: str, receiver: str, document_type: str, process: str, at: _dt.datetime,
         instance_id: str | None = None, country: str = "DE") -> tuple[bytes, Envelope]:
    """``document`` (UTF-8 XML) in an SBDH; returns the envelope's bytes and what it says."""
    if at.tzinfo is None:
        raise ValueError("at must carry a time zone")
    standard, local = _root_name(document)
    env = Envelope(PeppolId.parse(sender, PARTICIPANT_SCHEME), PeppolId.parse(receiver, PARTICIPANT_SCHEME),
                   PeppolId.parse(document_type, DOCTYPE_SCHEME), PeppolId.parse(process, PROCESS_SCHEME),
                   instance_id or str(uuid.uuid4()), standard, local,
                   at.astimezone(_dt.timezone.utc).replace(microsecond=0), country)
    body = _DECLARATION.sub(b"", document, count=1)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<StandardBusinessDocument xmlns="{NS}">'
        "<StandardBusinessDocumentHeader><HeaderVersion>1.0</HeaderVersion>"
        f'<Sender><Identifier Authority="{_text(env.sender.scheme)}">{_text(env.sender.value)}</Identifier></Sender>'
        f'<Receiver><Identifier Authority="{_text(env.receiver.scheme)}">{_text(env.receiver.value)}</Identifier>'
        "</Receiver><DocumentIdentification>"
        f"<Standard>{_text(standard)}</Standard><TypeVersion>2.1</TypeVersion>"
        f"<InstanceIdentifier>{_text(env.instance_id)}</InstanceIdentifier><Type>{_text(local)}</Type>"
        f"<CreationDateAndTime>{env.created_at:%Y-%m-%dT%H:%M:%SZ}</CreationDateAndTime>"
        "</DocumentIdentification><BusinessScope>"
        f"<Scope><Type>DOCUMENTID</Type><InstanceIdentifier>{_text(env.document_type.value)}</InstanceIdentifier>"
        f"<Identifier>{_text(env.document_type.scheme)}</Identifier></Scope>"
        f"<Scope><Type>PROCESSID</Type><InstanceIdentifier>{_text(env.process.value)}</InstanceIdentifier>"
        f"<Identifier>{_text(env.process.scheme)}</Identifier></Scope>"
        f"<Scope><Type>COUNTRY_C1</Type><InstanceIdentifier>{_text(country)}</InstanceIdentifier></Scope>"
        "</BusinessScope></StandardBusinessDocumentHeader>")
    return head.encode("utf-8") + body.rstrip() + b"</StandardBusinessDocument>\n", env


def _one(parent: etree._Element, path: str, what: str) -> etree._Element:
    found = parent.findall(path)
    if len(found) != 1:
        raise EnvelopeError(f"the SBDH has {len(found)} {what} elements, not one")
    return found[0]


def _value(parent: etree._Element, path: str, what: str) -> str:
    text = (_one(parent, path, what).text or "").strip()
    if not text:
        raise EnvelopeError(f"the SBDH's {what} is empty")
    return text


def _party(header: etree._Element, role: str) -> PeppolId:
    ident = _one(header, f"{_H}{role}/{_H}Identifier", f"{role}/Identifier")
    scheme = ident.get("Authority", "")
    if scheme != PARTICIPANT_SCHEME:
        raise EnvelopeError(f"the SBDH's {role} identifier has Authority '{scheme}', not '{PARTICIPANT_SCHEME}'")
    return PeppolId(scheme, _value(header, f"{_H}{role}/{_H}Identifier", f"{role}/Identifier"))


def unwrap(data: bytes, *, max_bytes: int = MAX_BYTES) -> tuple[bytes, Envelope]:
    """The payload (a UTF-8 XML document of its own) and what the envelope says; raises :class:`EnvelopeError`."""
    try:
        root = parse(data, max_bytes=max_bytes, what="the SBDH envelope")
    except XmlRefused as exc:
        raise EnvelopeError(str(exc)) from None
    if root.tag != f"{_H}StandardBusinessDocument":
        raise EnvelopeError(f"the attachment is no StandardBusinessDocument but {etree.QName(root).localname}")
    children = [c for c in root if isinstance(c.tag, str)]
    if len(children) != 2 or children[0].tag != f"{_H}StandardBusinessDocumentHeader":
        raise EnvelopeError("the SBDH must hold the header and exactly one business document")
    header, payload = children
    if _value(header, f"{_H}HeaderVersion", "HeaderVersion") != "1.0":
        raise EnvelopeError("the SBDH's HeaderVersion is not 1.0")
    ident = _one(header, f"{_H}DocumentIdentification", "DocumentIdentification")
    scopes: dict[str, etree._Element] = {}
    for scope in header.findall(f"{_H}BusinessScope/{_H}Scope"):
        kind = (scope.findtext(f"{_H}Type") or "").strip()
        if kind in scopes:
            raise EnvelopeError(f"the SBDH has two {kind} scopes")
        scopes[kind] = scope
    for kind in ("DOCUMENTID", "PROCESSID"):
        if kind not in scopes:
            raise EnvelopeError(f"the SBDH has no {kind} scope")

    def scoped(kind: str, default: str) -> PeppolId:
        value = _value(scopes[kind], f"{_H}InstanceIdentifier", f"{kind} InstanceIdentifier")
        return PeppolId((scopes[kind].findtext(f"{_H}Identifier") or default).strip(), value)

    qname = etree.QName(payload)
    standard = _value(ident, f"{_H}Standard", "Standard")
    local = _value(ident, f"{_H}Type", "Type")
    if (standard, local) != (qname.namespace, qname.localname):
        raise EnvelopeError(f"the SBDH announces {local} ({standard}) but carries {qname.localname} "
                            f"({qname.namespace})")
    created_text = _value(ident, f"{_H}CreationDateAndTime", "CreationDateAndTime")
    try:
        created = _dt.datetime.fromisoformat(created_text.replace("Z", "+00:00"))
    except ValueError:
        raise EnvelopeError(f"the SBDH's CreationDateAndTime '{created_text}' is no date and time") from None
    if created.tzinfo is None:
        raise EnvelopeError("the SBDH's CreationDateAndTime has no time zone")
    country = ""
    if "COUNTRY_C1" in scopes:
        country = _value(scopes["COUNTRY_C1"], f"{_H}InstanceIdentifier", "COUNTRY_C1")
    env = Envelope(_party(header, "Sender"), _party(header, "Receiver"), scoped("DOCUMENTID", DOCTYPE_SCHEME),
                   scoped("PROCESSID", PROCESS_SCHEME), _value(ident, f"{_H}InstanceIdentifier", "InstanceIdentifier"),
                   standard, local, created, country)
    document = etree.ElementTree(_detached(payload))
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8"), env


def _detached(element: etree._Element) -> etree._Element:
    copy = etree.fromstring(etree.tostring(element))
    etree.cleanup_namespaces(copy)
    return copy
