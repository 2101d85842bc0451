"""WS-Security 1.1 for the Peppol AS4 profile 2.0 (section 5: "Security"): sign, encrypt, decrypt and verify an
ebMS3 message whose payload travels as a MIME attachment (SOAP with Attachments).

What the profile asks for, and what this module writes and accepts (nothing else):

* signature (XML-DSig 1.0 inside ``wsse:Security``, WSS 1.1 X.509 token profile): ``rsa-sha256``, SHA-256
  digests, exclusive C14N for ``SignedInfo`` and for the signed elements; the sender AP's certificate as
  ``wsse:BinarySecurityToken`` (X509v3), referenced from ``ds:KeyInfo`` by a ``wsse:SecurityTokenReference``;
  one ``ds:Reference`` per signed element by its ``wsu:Id`` (the ``eb:Messaging`` header and the SOAP ``Body``)
  and one per attachment by ``cid:`` with the ``Attachment-Content-Signature-Transform`` (WSS SwA profile 1.1,
  section 5.3: the digest of the attachment's content octets; the payload is ``application/gzip``, so no MIME
  canonicalisation applies);
* encryption (XML Encryption 1.1, WSS SwA profile 1.1 section 5.4): each attachment by AES-128-GCM
  (``xmlenc11#aes128-gcm``: a fresh 96-bit IV, the octets IV || ciphertext || 128-bit tag), the MIME part's content
  replaced by those octets (``Attachment-Ciphertext-Transform``, ``Type=...#Attachment-Content-Only``); the AES
  key transported by ``xmlenc11#rsa-oaep`` (MGF1 with SHA-256, digest SHA-256) to the receiver AP's certificate
  (named by issuer and serial number); the ``xenc:EncryptedKey`` lists its ``xenc:EncryptedData`` in a
  ``xenc:ReferenceList``;
* order: sign, then encrypt (the attachment's signed digest is that of the compressed plaintext); the receiver
  decrypts, then verifies.

Why written by hand on lxml (exclusive C14N) and ``cryptography``: python-xmlsec and signxml sign and verify XML
only; neither resolves ``cid:`` references nor knows the SwA attachment transforms, so the attachment digests and
the attachment encryption would have to be done beside them anyway, and what is left (two references by id and
one ``SignedInfo``) is a few lines. python-xmlsec's wheels also bundle a libxml2 of their own, which clashes
with the one lxml's wheels bundle (a document moved between the two crashes or fails to canonicalise). The
tests check the result against ``xmlsec1`` (verify ours, and ours verifies one xmlsec1 made).

Errors are :class:`~.errors.As4Error` with the ebMS3 code: ``EBMS:0101`` (signature), ``EBMS:0102``
(decryption), ``EBMS:0103`` (an algorithm or structure the profile does not allow).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from .errors import As4Error

__all__ = ["Attachment", "NS", "SignedReference", "Verified", "decrypt", "encrypt", "security_header", "sign",
           "verify"]

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
NS = {"soap": SOAP, "wsse": WSSE, "wsse11": WSSE11, "wsu": WSU, "ds": DS, "ec": EC, "xenc": XENC,
      "xenc11": XENC11}

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
AES128_GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
RSA_OAEP = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
MGF1_SHA256 = "http://www.w3.org/2009/xmlenc11#mgf1sha256"
_SWA = "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1"
SWA_SIGNATURE_TRANSFORM = f"{_SWA}#Attachment-Content-Signature-Transform"
SWA_CIPHERTEXT_TRANSFORM = f"{_SWA}#Attachment-Ciphertext-Transform"
SWA_CONTENT_ONLY = f"{_SWA}#Attachment-Content-Only"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
ENCRYPTED_KEY_TOKEN = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKey"

_WSU_ID = f"{{{WSU}}}Id"
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_PKCS1 = padding.PKCS1v15()


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


@dataclass(frozen=True)
class Attachment:
    """A MIME part: ``cid`` without ``cid:`` and angle brackets, its content and media type."""

    cid: str
    data: bytes = field(repr=False)
    mime_type: str


@dataclass(frozen=True)
class SignedReference:
    """One ``ds:Reference`` of a signature: its URI, its digest (base64) and the element itself (exclusive C14N),
    which a receipt's NonRepudiationInformation repeats."""

    uri: str
    digest: str
    xml: bytes = field(repr=False)


@dataclass(frozen=True)
class Verified:
    """A signature that verified: the certificate that made it and every reference it covers."""

    cert: x509.Certificate
    references: tuple[SignedReference, ...]
    element_ids: frozenset[str]  # the wsu:Id / Id values of the signed elements
    cids: frozenset[str]  # the signed attachments
    elements: tuple[etree._Element, ...] = field(repr=False, compare=False)


def c14n(element: etree._Element, prefixes: Sequence[str] | None = None) -> bytes:
    """Exclusive XML canonicalisation without comments (with an InclusiveNamespaces PrefixList, when given)."""
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False,
                          inclusive_ns_prefixes=list(prefixes) if prefixes else None)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str | None, what: str, code: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise As4Error(code, f"{what} is not base64") from None


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def security_header(envelope: etree._Element, *, create: bool = False) -> etree._Element | None:
    header = envelope.find(_q("soap", "Header"))
    if header is None:
        if not create:
            return None
        header = etree.Element(_q("soap", "Header"))
        envelope.insert(0, header)
    found = header.findall(_q("wsse", "Security"))
    if len(found) > 1:
        raise As4Error("EBMS:0103", "the message has more than one wsse:Security header")
    if found:
        return found[0]
    if not create:
        return None
    security = etree.SubElement(header, _q("wsse", "Security"), nsmap={"wsse": WSSE})
    security.set(_q("soap", "mustUnderstand"), "true")
    return security


def ids_of(root: etree._Element) -> dict[str, etree._Element]:
    """Elements by ``wsu:Id`` (and plain ``Id``); an id used twice is refused (signature wrapping)."""
    found: dict[str, etree._Element] = {}
    for element in root.iter(etree.Element):
        for attr in (_WSU_ID, "Id"):
            value = element.get(attr)
            if value is None:
                continue
            if value in found and found[value] is not element:
                raise As4Error("EBMS:0101", f"the id '{value}' is used by two elements of the message")
            found[value] = element
    return found


# ---- signing ------------------------------------------------------------------------------------------------
def _reference(parent: etree._Element, uri: str, transform: str, digest: bytes) -> etree._Element:
    ref = etree.SubElement(parent, _q("ds", "Reference"), URI=uri)
    transforms = etree.SubElement(ref, _q("ds", "Transforms"))
    etree.SubElement(transforms, _q("ds", "Transform"), Algorithm=transform)
    etree.SubElement(ref, _q("ds", "DigestMethod"), Algorithm=SHA256)
    etree.SubElement(ref, _q("ds", "DigestValue")).text = _b64(digest)
    return ref


def sign(envelope: etree._Element, *, cert_der: bytes, key: rsa.RSAPrivateKey, element_ids: Sequence[str],
         attachments: Sequence[Attachment] = ()) -> tuple[SignedReference, ...]:
    """Sign the elements with ``element_ids`` and the ``attachments`` (their content as it is now: sign before
    encrypting); adds the BinarySecurityToken and the ``ds:Signature`` to the Security header."""
    security = security_header(envelope, create=True)
    assert security is not None
    bst_id = new_id("X509")
    bst = etree.SubElement(security, _q("wsse", "BinarySecurityToken"), EncodingType=BASE64, ValueType=X509V3)
    bst.set(_WSU_ID, bst_id)
    bst.text = _b64(cert_der)
    signature = etree.SubElement(security, _q("ds", "Signature"), Id=new_id("SIG"), nsmap={"ds": DS})
    info = etree.SubElement(signature, _q("ds", "SignedInfo"))
    etree.SubElement(info, _q("ds", "CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(info, _q("ds", "SignatureMethod"), Algorithm=RSA_SHA256)
    ids = ids_of(envelope)
    refs = []
    for ident in element_ids:
        if ident not in ids:
            raise ValueError(f"no element with id {ident} to sign")
        refs.append(_reference(info, f"#{ident}", EXC_C14N, hashlib.sha256(c14n(ids[ident])).digest()))
    for att in attachments:
        refs.append(_reference(info, f"cid:{att.cid}", SWA_SIGNATURE_TRANSFORM, hashlib.sha256(att.data).digest()))
    etree.SubElement(signature, _q("ds", "SignatureValue")).text = _b64(
        key.sign(c14n(info), _PKCS1, hashes.SHA256()))
    key_info = etree.SubElement(signature, _q("ds", "KeyInfo"))
    token = etree.SubElement(key_info, _q("wsse", "SecurityTokenReference"))
    etree.SubElement(token, _q("wsse", "Reference"), URI=f"#{bst_id}", ValueType=X509V3)
    return tuple(SignedReference(r.get("URI"), r.findtext(_q("ds", "DigestValue")), c14n(r)) for r in refs)


# ---- encryption ---------------------------------------------------------------------------------------------
def encrypt(envelope: etree._Element, attachments: Sequence[Attachment], *,
            receiver_cert: x509.Certificate) -> list[Attachment]:
    """Encrypt ``attachments`` for ``receiver_cert`` (one AES key for all); returns the parts as they go on the
    wire (``application/octet-stream``) and adds EncryptedKey and EncryptedData to the Security header."""
    security = security_header(envelope, create=True)
    assert security is not None
    public_key = receiver_cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("the receiver's certificate has no RSA key (the Peppol AS4 profile transports keys by RSA)")
    aes_key = AESGCM.generate_key(bit_length=128)
    aead = AESGCM(aes_key)
    position = 0
    bst = security.find(_q("wsse", "BinarySecurityToken"))
    if bst is not None:
        position = security.index(bst) + 1
    key_id = new_id("EK")
    encrypted_key = etree.Element(_q("xenc", "EncryptedKey"), Id=key_id, nsmap={"xenc": XENC})
    method = etree.SubElement(encrypted_key, _q("xenc", "EncryptionMethod"), Algorithm=RSA_OAEP)
    etree.SubElement(method, _q("ds", "DigestMethod"), Algorithm=SHA256, nsmap={"ds": DS})
    etree.SubElement(method, _q("xenc11", "MGF"), Algorithm=MGF1_SHA256, nsmap={"xenc11": XENC11})
    key_info = etree.SubElement(encrypted_key, _q("ds", "KeyInfo"), nsmap={"ds": DS})
    token = etree.SubElement(key_info, _q("wsse", "SecurityTokenReference"))
    serial = etree.SubElement(etree.SubElement(token, _q("ds", "X509Data")), _q("ds", "X509IssuerSerial"))
    etree.SubElement(serial, _q("ds", "X509IssuerName")).text = receiver_cert.issuer.rfc4514_string()
    etree.SubElement(serial, _q("ds", "X509SerialNumber")).text = str(receiver_cert.serial_number)
    cipher = etree.SubElement(encrypted_key, _q("xenc", "CipherData"))
    etree.SubElement(cipher, _q("xenc", "CipherValue")).text = _b64(public_key.encrypt(aes_key, _OAEP))
    references = etree.SubElement(encrypted_key, _q("xenc", "ReferenceList"))
    security.insert(position, encrypted_key)
    out = []
    for i, att in enumerate(attachments, start=1):
        data_id = new_id("ED")
        etree.SubElement(references, _q("xenc", "DataReference"), URI=f"#{data_id}")
        data = etree.Element(_q("xenc", "EncryptedData"), Id=data_id, MimeType=att.mime_type, Type=SWA_CONTENT_ONLY,
                             nsmap={"xenc": XENC})
        etree.SubElement(data, _q("xenc", "EncryptionMethod"), Algorithm=AES128_GCM)
        data_key = etree.SubElement(etree.SubElement(data, _q("ds", "KeyInfo"), nsmap={"ds": DS}),
                                    _q("wsse", "SecurityTokenReference"), nsmap={"wsse11": WSSE11})
        data_key.set(_q("wsse11", "TokenType"), ENCRYPTED_KEY_TOKEN)
        etree.SubElement(data_key, _q("wsse", "Reference"), URI=f"#{key_id}")
        ref = etree.SubElement(etree.SubElement(data, _q("xenc", "CipherData")), _q("xenc", "CipherReference"),
                               URI=f"cid:{att.cid}")
        etree.SubElement(etree.SubElement(ref, _q("xenc", "Transforms")), _q("ds", "Transform"),
                         Algorithm=SWA_CIPHERTEXT_TRANSFORM)
        security.insert(position + i, data)
        iv = os.urandom(12)
        out.append(Attachment(att.cid, iv + aead.encrypt(iv, att.data, None), "application/octet-stream"))
    return out


def _algorithm(parent: etree._Element, path: str, expected: str, what: str) -> etree._Element:
    element = parent.find(path, NS)
    if element is None or element.get("Algorithm") != expected:
        got = "none" if element is None else element.get("Algorithm")
        raise As4Error("EBMS:0103", f"{what} must be {expected}, not {got}")
    return element


def _names_cert(key_info: etree._Element | None, cert: x509.Certificate) -> bool:
    """Whether an EncryptedKey's KeyInfo names ``cert`` (issuer and serial, or the certificate itself)."""
    if key_info is None:
        return True  # no name given: the key decides
    serial = key_info.find(".//ds:X509IssuerSerial", NS)
    if serial is not None:
        number = (serial.findtext("ds:X509SerialNumber", namespaces=NS) or "").strip()
        issuer = "".join((serial.findtext("ds:X509IssuerName", namespaces=NS) or "").split()).lower()
        ours = "".join(cert.issuer.rfc4514_string().split()).lower()
        return number == str(cert.serial_number) and issuer in ("", ours)
    embedded = key_info.find(".//wsse:BinarySecurityToken", NS)
    if embedded is None:
        embedded = key_info.find(".//ds:X509Certificate", NS)
    if embedded is not None:
        return _unb64(embedded.text, "the certificate in the EncryptedKey", "EBMS:0102") == cert.public_bytes(
            Encoding.DER)
    return True


def decrypt(envelope: etree._Element, attachments: Mapping[str, Attachment], *, key: rsa.RSAPrivateKey,
            cert: x509.Certificate) -> dict[str, Attachment]:
    """The decrypted attachments by cid (with the media type ``EncryptedData/@MimeType`` names); attachments no
    EncryptedData names are not in the result."""
    security = security_header(envelope)
    if security is None:
        return {}
    ids = ids_of(envelope)
    plain: dict[str, Attachment] = {}
    for encrypted_key in security.findall("xenc:EncryptedKey", NS):
        method = _algorithm(encrypted_key, "xenc:EncryptionMethod", RSA_OAEP, "the key transport")
        _algorithm(method, "ds:DigestMethod", SHA256, "the key transport's digest")
        _algorithm(method, "xenc11:MGF", MGF1_SHA256, "the key transport's mask generation")
        wrapped = _unb64(encrypted_key.findtext("xenc:CipherData/xenc:CipherValue", namespaces=NS),
                         "the EncryptedKey's CipherValue", "EBMS:0102")
        try:
            aes_key = key.decrypt(wrapped, _OAEP)
        except ValueError:
            # the key decides; how the EncryptedKey names its certificate only makes the message clearer
            if not _names_cert(encrypted_key.find("ds:KeyInfo", NS), cert):
                raise As4Error("EBMS:0102", "the message was encrypted for another certificate than this access "
                                            "point's (the sender used an outdated or wrong SMP entry)") from None
            raise As4Error("EBMS:0102", "the message's key could not be decrypted with this access point's key "
                                        "(it was encrypted for another certificate, or damaged)") from None
        if len(aes_key) != 16:
            raise As4Error("EBMS:0103", "the transported key is no AES-128 key")
        aead = AESGCM(aes_key)
        for data_ref in encrypted_key.findall("xenc:ReferenceList/xenc:DataReference", NS):
            data = ids.get((data_ref.get("URI") or "").removeprefix("#"))
            if data is None or data.tag != _q("xenc", "EncryptedData") or data.getparent() is not security:
                raise As4Error("EBMS:0102", f"the EncryptedKey names '{data_ref.get('URI')}', which is no "
                                            "EncryptedData of the security header")
            _algorithm(data, "xenc:EncryptionMethod", AES128_GCM, "the attachment encryption")
            if data.get("Type") != SWA_CONTENT_ONLY:
                raise As4Error("EBMS:0103", f"EncryptedData of type {data.get('Type')} is not supported")
            ref = data.find("xenc:CipherData/xenc:CipherReference", NS)
            uri = "" if ref is None else ref.get("URI") or ""
            transforms = [] if ref is None else [t.get("Algorithm") for t in ref.iterfind(".//ds:Transform", NS)]
            if not uri.startswith("cid:") or transforms != [SWA_CIPHERTEXT_TRANSFORM]:
                raise As4Error("EBMS:0103", "EncryptedData must reference an attachment by cid: with the "
                                            "Attachment-Ciphertext-Transform")
            cid = uri[4:]
            if cid not in attachments:
                raise As4Error("EBMS:0102", f"the encrypted attachment {cid} is not in the message")
            if cid in plain:
                raise As4Error("EBMS:0102", f"the attachment {cid} is encrypted twice")
            octets = attachments[cid].data
            if len(octets) < 28:
                raise As4Error("EBMS:0102", f"the attachment {cid} is too short to be AES-GCM ciphertext")
            try:
                content = aead.decrypt(octets[:12], octets[12:], None)
            except InvalidTag:
                raise As4Error("EBMS:0102", f"the attachment {cid} does not decrypt (changed on the way, or "
                                            "encrypted with another key)") from None
            plain[cid] = Attachment(cid, content, data.get("MimeType") or "application/octet-stream")
    return plain


# ---- verification -------------------------------------------------------------------------------------------
def _token_cert(signature: etree._Element, ids: Mapping[str, etree._Element]) -> x509.Certificate | None:
    key_info = signature.find("ds:KeyInfo", NS)
    if key_info is None:
        return None
    der = None
    ref = key_info.find("wsse:SecurityTokenReference/wsse:Reference", NS)
    if ref is not None:
        token = ids.get((ref.get("URI") or "").removeprefix("#"))
        if token is None or token.tag != _q("wsse", "BinarySecurityToken") or token.get("ValueType") != X509V3:
            raise As4Error("EBMS:0101", "the signature's key reference names no X.509 BinarySecurityToken")
        der = _unb64(token.text, "the BinarySecurityToken", "EBMS:0101")
    else:
        embedded = key_info.find("ds:X509Data/ds:X509Certificate", NS)
        if embedded is not None:
            der = _unb64(embedded.text, "the signature's certificate", "EBMS:0101")
    if der is None:
        return None
    return load_der(der)


_CERTS: dict[bytes, x509.Certificate] = {}


def load_der(der: bytes) -> x509.Certificate:
    """A certificate from DER, parsed once per process (access points send the same one with every message)."""
    cert = _CERTS.get(der)
    if cert is None:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            raise As4Error("EBMS:0101", "the certificate in the message is not readable") from None
        if len(_CERTS) > 1000:
            _CERTS.clear()
        _CERTS[der] = cert
    return cert


def _transforms(ref: etree._Element) -> list[etree._Element]:
    return list(ref.iterfind("ds:Transforms/ds:Transform", NS))


def _prefixes(transform: etree._Element) -> list[str] | None:
    inclusive = transform.find("ec:InclusiveNamespaces", NS)
    if inclusive is None:
        return None
    return [p if p != "#default" else "" for p in (inclusive.get("PrefixList") or "").split()] or None


def verify(envelope: etree._Element, attachments: Mapping[str, Attachment] | None = None, *,
           cert: x509.Certificate | None = None, signature: etree._Element | None = None) -> Verified:
    """Verify the one ``ds:Signature`` of the Security header (or ``signature``) and every reference it makes.

    ``attachments`` are the plaintext parts by cid (decrypt first); ``cert``: the certificate that must have
    signed (the SMP's for a receipt); without it the signature's own token is used. Raises As4Error EBMS:0101
    (or 0103 for algorithms the profile does not allow)."""
    attachments = attachments or {}
    if signature is None:
        security = security_header(envelope)
        found = [] if security is None else security.findall("ds:Signature", NS)
        if len(found) != 1:
            raise As4Error("EBMS:0101", f"the message has {len(found)} signatures in its security header, not one")
        signature = found[0]
    ids = ids_of(envelope)
    info = signature.find("ds:SignedInfo", NS)
    if info is None:
        raise As4Error("EBMS:0101", "the signature has no SignedInfo")
    method = _algorithm(info, "ds:CanonicalizationMethod", EXC_C14N, "the signature's canonicalisation")
    _algorithm(info, "ds:SignatureMethod", RSA_SHA256, "the signature method")
    token_cert = _token_cert(signature, ids)
    if cert is None:
        if token_cert is None:
            raise As4Error("EBMS:0101", "the signature names no certificate")
        cert = token_cert
    elif token_cert is not None and token_cert.public_bytes(Encoding.DER) != cert.public_bytes(Encoding.DER):
        raise As4Error("EBMS:0101", "the message is signed with another certificate than the one expected "
                                    f"({token_cert.subject.rfc4514_string()})")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise As4Error("EBMS:0103", "the signing certificate has no RSA key")
    value = _unb64(signature.findtext("ds:SignatureValue", namespaces=NS), "the SignatureValue", "EBMS:0101")
    try:
        public_key.verify(value, c14n(info, _prefixes(method)), _PKCS1, hashes.SHA256())
    except InvalidSignature:
        raise As4Error("EBMS:0101", "the signature value does not match (the signed header was changed, or "
                                    "signed with another key)") from None
    refs, element_ids, cids, elements = [], set(), set(), []
    for ref in info.iterfind("ds:Reference", NS):
        uri = ref.get("URI") or ""
        _algorithm(ref, "ds:DigestMethod", SHA256, "the digest method")
        transforms = _transforms(ref)
        if uri.startswith("#"):
            target = ids.get(uri[1:])
            if target is None:
                raise As4Error("EBMS:0101", f"the signature references '{uri}', which the message does not have")
            if [t.get("Algorithm") for t in transforms] != [EXC_C14N]:
                raise As4Error("EBMS:0103", f"the reference {uri} must use exactly the exclusive C14N transform")
            digest = hashlib.sha256(c14n(target, _prefixes(transforms[0]))).digest()
            element_ids.add(uri[1:])
            elements.append(target)
        elif uri.startswith("cid:"):
            if [t.get("Algorithm") for t in transforms] != [SWA_SIGNATURE_TRANSFORM]:
                raise As4Error("EBMS:0103", f"the reference {uri} must use the Attachment-Content-Signature-Transform")
            att = attachments.get(uri[4:])
            if att is None:
                raise As4Error("EBMS:0101", f"the signed attachment {uri} is not in the message")
            digest = hashlib.sha256(att.data).digest()
            cids.add(uri[4:])
        else:
            raise As4Error("EBMS:0103", f"the signature references '{uri}' (only #id and cid: are allowed)")
        expected = _unb64(ref.findtext("ds:DigestValue", namespaces=NS), f"the digest of {uri}", "EBMS:0101")
        if not hmac.compare_digest(digest, expected):
            what = "attachment" if uri.startswith("cid:") else "element"
            raise As4Error("EBMS:0101", f"the signed {what} {uri} was changed after signing (its digest differs)")
        refs.append(SignedReference(uri, _b64(expected), c14n(ref)))
    if not refs:
        raise As4Error("EBMS:0101", "the signature signs nothing")
    return Verified(cert, tuple(refs), frozenset(element_ids), frozenset(cids), tuple(elements))


def require_signed(verified: Verified, elements: Iterable[etree._Element], cids: Iterable[str]) -> None:
    """Raise EBMS:0101 unless ``elements`` (by identity) and ``cids`` are all covered by the signature."""
    for element in elements:
        if not any(element is e for e in verified.elements):
            raise As4Error("EBMS:0101", f"the {etree.QName(element).localname} element is not signed")
    missing = set(cids) - verified.cids
    if missing:
        raise As4Error("EBMS:0101", f"the attachment(s) {', '.join(sorted(missing))} are not signed")
