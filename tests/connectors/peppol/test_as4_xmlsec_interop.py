"""Our WS-Security against an independent implementation, xmlsec1 (libxmlsec1 on OpenSSL): xmlsec1 verifies the
Receipt we sign, and we verify a signature xmlsec1 made from a template. The UserMessage's signature also
references its attachment by ``cid:``, which xmlsec1 cannot resolve: for it xmlsec1 confirms the two element
references (eb:Messaging and Body) and fails only the attachment's."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from mailbox_connectors.peppol import as4, wss
from mailbox_connectors.peppol.as4 import As4Error
from mailbox_connectors.sandboxes.peppol_pki import AP_CA

from .as4_support import build, identity, now, pki, trust

XMLSEC1 = shutil.which("xmlsec1")
pytestmark = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed")

ID_ATTRS = ["--id-attr:Id", f"{as4.EB}:Messaging", "--id-attr:Id", f"{wss.SOAP}:Body"]


@pytest.fixture(scope="module")
def net():
    p = pki()
    return p, identity(p, "PDE000001"), identity(p, "PDE000002")


def _pem(ident, folder: Path) -> tuple[Path, Path]:
    cert, key = folder / f"{ident.seat}.crt", folder / f"{ident.seat}.key"
    cert.write_bytes(ident.cert.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(ident.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return cert, key


def xmlsec1(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([XMLSEC1, *args], capture_output=True, text=True, timeout=30)


def test_xmlsec1_verifies_our_signed_receipt_and_refuses_a_changed_one(net, tmp_path):
    p, sender, receiver = net
    message = build(sender, receiver.cert)
    inbound = as4.receive_user_message(message.content_type, message.body, ap=receiver, trust_roots=trust(p),
                                       at=now(), ap_ca_cn=AP_CA)
    _, body = as4.receipt_for(inbound, receiver, now())
    cert, _ = _pem(receiver, tmp_path)
    (tmp_path / "receipt.xml").write_bytes(body)
    done = xmlsec1("--verify", *ID_ATTRS, "--pubkey-cert-pem", str(cert), str(tmp_path / "receipt.xml"))
    assert done.returncode == 0, done.stderr
    assert "SignedInfo References (ok/all): 2/2" in done.stderr + done.stdout
    (tmp_path / "changed.xml").write_bytes(body.replace(b"<eb:RefToMessageId>", b"<eb:RefToMessageId>x", 1))
    done = xmlsec1("--verify", *ID_ATTRS, "--pubkey-cert-pem", str(cert), str(tmp_path / "changed.xml"))
    assert done.returncode != 0


def test_xmlsec1_confirms_the_user_messages_element_references(net, tmp_path):
    _, sender, receiver = net
    from mailbox_connectors.peppol import mime

    soap = mime.parse(*(lambda m: (m.content_type, m.body))(build(sender, receiver.cert)))[0].data
    cert, _ = _pem(sender, tmp_path)
    (tmp_path / "user.xml").write_bytes(soap)
    done = xmlsec1("--verify", *ID_ATTRS, "--pubkey-cert-pem", str(cert), str(tmp_path / "user.xml"))
    assert "SignedInfo References (ok/all): 2/3" in done.stderr + done.stdout  # all but the cid: reference
    (tmp_path / "changed.xml").write_bytes(soap.replace(b"<eb:ConversationId>", b"<eb:ConversationId>x", 1))
    done = xmlsec1("--verify", *ID_ATTRS, "--pubkey-cert-pem", str(cert), str(tmp_path / "changed.xml"))
    ok = re.search(r"SignedInfo References \(ok/all\): (\d)/\d", done.stderr + done.stdout)
    assert ok is not None and ok.group(1) == "0"  # the changed header's reference (the first) fails


TEMPLATE = f"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="{wss.SOAP}" xmlns:wsu="{wss.WSU}" xmlns:extra="urn:example:extra">
  <env:Header>
    <eb:Messaging xmlns:eb="{as4.EB}" env:mustUnderstand="true" wsu:Id="messaging-1">
      <eb:SignalMessage><eb:MessageInfo><eb:Timestamp>2026-12-06T12:00:00.000Z</eb:Timestamp>
        <eb:MessageId>from-xmlsec1@example</eb:MessageId></eb:MessageInfo></eb:SignalMessage>
    </eb:Messaging>
    <wsse:Security xmlns:wsse="{wss.WSSE}" env:mustUnderstand="true">
      <ds:Signature xmlns:ds="{wss.DS}">
        <ds:SignedInfo>
          <ds:CanonicalizationMethod Algorithm="{wss.EXC_C14N}"/>
          <ds:SignatureMethod Algorithm="{wss.RSA_SHA256}"/>
          <ds:Reference URI="#messaging-1">
            <ds:Transforms><ds:Transform Algorithm="{wss.EXC_C14N}"/></ds:Transforms>
            <ds:DigestMethod Algorithm="{wss.SHA256}"/><ds:DigestValue/>
          </ds:Reference>
          <ds:Reference URI="#body-1">
            <ds:Transforms><ds:Transform Algorithm="{wss.EXC_C14N}">
              <ec:InclusiveNamespaces xmlns:ec="{wss.EC}" PrefixList="extra"/></ds:Transform></ds:Transforms>
            <ds:DigestMethod Algorithm="{wss.SHA256}"/><ds:DigestValue/>
          </ds:Reference>
        </ds:SignedInfo>
        <ds:SignatureValue/>
        <ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>
      </ds:Signature>
    </wsse:Security>
  </env:Header>
  <env:Body wsu:Id="body-1"><x:Gruss xmlns:x="urn:example:x">Gr&#252;&#223;e aus xmlsec1 <!-- Kommentar -->
  </x:Gruss></env:Body>
</env:Envelope>
"""


def test_we_verify_a_signature_xmlsec1_made(net, tmp_path):
    _, sender, _ = net
    cert, key = _pem(sender, tmp_path)
    (tmp_path / "template.xml").write_text(TEMPLATE, encoding="utf-8")
    done = xmlsec1("--sign", *ID_ATTRS, "--privkey-pem", f"{key},{cert}", "--output", str(tmp_path / "signed.xml"),
                   str(tmp_path / "template.xml"))
    assert done.returncode == 0, done.stderr
    signed = (tmp_path / "signed.xml").read_bytes()
    envelope = etree.fromstring(signed)
    verified = wss.verify(envelope)  # the certificate from the signature's X509Data
    assert verified.cert == sender.cert and verified.element_ids == {"messaging-1", "body-1"}
    wss.verify(etree.fromstring(signed), cert=sender.cert)
    # the InclusiveNamespaces PrefixList is honoured: the unused xmlns:extra is part of the Body's digest
    assert b'xmlns:extra="urn:example:extra"' in wss.c14n(envelope.find(f"{{{wss.SOAP}}}Body"), ["extra"])
    changed = etree.fromstring(signed.replace(b"aus xmlsec1", b"aus Python"))
    with pytest.raises(As4Error) as caught:
        wss.verify(changed)
    assert caught.value.code == "EBMS:0101" and "#body-1" in caught.value.reason
    with pytest.raises(As4Error):
        wss.verify(etree.fromstring(signed), cert=identity(pki(), "PDE000003").cert)
