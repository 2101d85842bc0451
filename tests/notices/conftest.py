"""Fixtures for notices: the sample drafts, and a test PKI of our own (root CA -> seal certificate as PKCS#12).

This folder is a package, so this conftest does not shadow tests/conftest.py (imported as ``conftest``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from .samples import SAMPLES, SEAL_PASSWORD, draft


@pytest.fixture(scope="session")
def sample_drafts():
    return {name: draft(name) for name in SAMPLES}


@dataclass(frozen=True)
class Pki:
    root: object  # cryptography x509.Certificate
    seal_cert: object
    p12_path: Path
    password_file: Path
    other_root: object  # a second, unrelated root: the seal must not be trusted against it


def _name(cn: str):
    from cryptography.x509 import Name, NameAttribute
    from cryptography.x509.oid import NameOID

    return Name([NameAttribute(NameOID.COUNTRY_NAME, "DE"), NameAttribute(NameOID.ORGANIZATION_NAME,
                                                                          "Stadt Musterstadt (TEST)"),
                 NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory) -> Pki:
    """Root CA -> seal certificate (keyUsage nonRepudiation + digitalSignature), PKCS#12 with a password."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    root_key, root = _ca("Musterstadt TEST Root CA")
    _, other_root = _ca("Unrelated TEST Root CA")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    seal = (x509.CertificateBuilder().subject_name(_name("Stadt Musterstadt - Elektronisches Siegel (TEST)"))
            .issuer_name(root.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("pki")
    p12 = folder / "siegel.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"siegel", key, seal, [root],
        serialization.BestAvailableEncryption(SEAL_PASSWORD.encode("utf-8"))))
    password_file = folder / "siegel.pass"
    password_file.write_text(SEAL_PASSWORD + "\n", encoding="utf-8")
    return Pki(root=root, seal_cert=seal, p12_path=p12, password_file=password_file, other_root=other_root)
