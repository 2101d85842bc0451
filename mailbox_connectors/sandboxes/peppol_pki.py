"""A test PKI shaped like Peppol's: one root ("PEPPOL ROOT TEST CA") and under it two issuing CAs, one for access
points and one for SMPs (as Peppol's G2/G3 test hierarchy), each issuing RSA-2048 end-entity certificates whose
common name is the AP's or SMP's seat id (``PDE000123``). A second, foreign root issues look-alike certificates
for the "bad certificate" failure mode: same names, not under the trusted root.

Keys are cached per process and label (``pki.rsa_key``); nothing here is for production.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .pki import Issued, rsa_key

__all__ = ["AP_CA", "PeppolTestPKI", "SMP_CA"]

ROOT = "PEPPOL ROOT TEST CA - G2"
AP_CA = "PEPPOL ACCESS POINT TEST CA - G2"
SMP_CA = "PEPPOL SERVICE METADATA PUBLISHER TEST CA - G2"


def _name(cn: str, org: str = "OpenPEPPOL AISBL", country: str = "BE") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=not ca,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


@dataclass(frozen=True)
class _CA:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...]  # its issuers, up to the root (empty for a root)


def _certificate(subject: x509.Name, key: rsa.RSAPrivateKey, issuer: _CA | None, *, ca: bool,
                 not_before: _dt.datetime, days: float) -> x509.Certificate:
    signer_key = key if issuer is None else issuer.key
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(subject if issuer is None else issuer.cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_before + _dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(_usage(ca=ca), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                              critical=False))
    return builder.sign(signer_key, hashes.SHA256())


class PeppolTestPKI:
    """The root, the AP CA and the SMP CA; :meth:`issue_ap` / :meth:`issue_smp` give end-entity certificates.

    ``label`` keeps the keys of two PKIs in one process apart (``foreign=True``: a look-alike hierarchy with the
    same names under another root, for certificates the network must refuse)."""

    __test__ = False

    def __init__(self, label: str = "peppol", *, foreign: bool = False) -> None:
        self.label = f"{label}:foreign" if foreign else label
        now = _dt.datetime.now(_dt.timezone.utc)
        self._start = now - _dt.timedelta(days=1)
        org = "Fremde Test-CA" if foreign else "OpenPEPPOL AISBL"
        root_key = rsa_key(f"{self.label}:root")
        self.root = _CA(_certificate(_name(ROOT, org), root_key, None, ca=True, not_before=self._start, days=3650),
                        root_key, ())
        self.ap_ca = self._intermediate(AP_CA, org)
        self.smp_ca = self._intermediate(SMP_CA, org)

    def _intermediate(self, cn: str, org: str) -> _CA:
        key = rsa_key(f"{self.label}:{cn}")
        return _CA(_certificate(_name(cn, org), key, self.root, ca=True, not_before=self._start, days=3650),
                   key, (self.root.cert,))

    @property
    def root_pem(self) -> bytes:
        """The trust anchor a configuration names (``[delivery.peppol] trust``)."""
        return self.root.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def ca_pem(self) -> bytes:
        """The root and both issuing CAs, as one trust store file."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM)
                        for c in (self.root.cert, self.ap_ca.cert, self.smp_ca.cert))

    def _issue(self, ca: _CA, seat: str, *, org: str, days: float, not_before: _dt.datetime | None) -> Issued:
        key = rsa_key(f"{self.label}:{ca.cert.subject.rfc4514_string()}:{seat}")
        cert = _certificate(_name(seat, org, "DE"), key, ca, ca=False, not_before=not_before or self._start,
                            days=days)
        return Issued(cert, key, (ca.cert, *ca.chain))

    def issue_ap(self, seat: str, *, org: str = "Test Access Point", days: float = 730,
                 not_before: _dt.datetime | None = None) -> Issued:
        """An access point's certificate (signing and key transport), CN = its seat id (``PDE000001``)."""
        return self._issue(self.ap_ca, seat, org=org, days=days, not_before=not_before)

    def issue_smp(self, seat: str, *, org: str = "Test SMP", days: float = 730,
                  not_before: _dt.datetime | None = None) -> Issued:
        """An SMP's signing certificate, CN = its seat id."""
        return self._issue(self.smp_ca, seat, org=org, days=days, not_before=not_before)
