"""A test PKI for the postbox sandboxes: one root CA that issues TLS server certificates, client certificates
(mTLS, BPKI author certificates) and the certificates behind published JWKs (their ``x5c`` chain). ``tls.py``
serves sandboxes that need only a server certificate; this one also issues the RSA certificates the postbox
protocols sign and encrypt with.

Nothing here is for production: keys live in memory, and PEM files are written only to a temporary folder so
that :mod:`ssl` can load them. The CA and TLS keys are EC P-256 (made in
milliseconds); RSA keys (author, client and JWK keys) are cached per process and label, because an RSA-4096 key
takes 0.5-3 s to make.
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Issued", "TestCA", "rsa_key"]

_KEYS: dict[tuple[str, int], rsa.RSAPrivateKey] = {}
_KEYS_LOCK = threading.Lock()


def rsa_key(label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """The process's RSA key for ``label`` (made on first use)."""
    with _KEYS_LOCK:
        key = _KEYS.get((label, bits))
        if key is None:
            key = _KEYS[(label, bits)] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return key


def _pem_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key and the chain up to (and including) the root."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...]  # issuer certificates, nearest first, ending with the root

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _pem_key(self.key)

    @property
    def common_name(self) -> str:
        return self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value  # type: ignore[return-value]

    def x5c(self) -> list[str]:
        """The JWK ``x5c`` value: base64 DER of the certificate, then its issuers up to the root."""
        import base64

        return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                for c in (self.cert, *self.chain)]

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        """Write ``name.crt`` (certificate and chain) and ``name.key``; returns both paths."""
        crt, key = folder / f"{name}.crt", folder / f"{name}.key"
        crt.write_bytes(self.cert_pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain))
        key.write_bytes(self.key_pem)
        key.chmod(0o600)
        return crt, key


class TestCA:
    """A root CA named ``name``; ``root_pem`` is what clients configure as their trust anchor."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "erechnung sandbox root") -> None:
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = _dt.datetime.now(_dt.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "erechnung sandbox"),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - _dt.timedelta(minutes=5))
                     .not_valid_after(now + _dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(ski, critical=False)
                     .sign(self.key, hashes.SHA256()))
        self._tmp = tempfile.TemporaryDirectory(prefix="sandbox-pki-")
        self.folder = Path(self._tmp.name)
        self.root_path = self.folder / "root.crt"
        self.root_path.write_bytes(self.root_pem)

    @property
    def root_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def _issue(self, cn: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, usage: x509.KeyUsage,
               eku: list[x509.ObjectIdentifier] | None = None, san: list[x509.GeneralName] | None = None,
               valid_days: float = 30, not_before: _dt.datetime | None = None) -> Issued:
        now = _dt.datetime.now(_dt.timezone.utc)
        start = not_before or now - _dt.timedelta(minutes=5)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "erechnung sandbox"),
                                            x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + _dt.timedelta(days=valid_days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(usage, critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key, (self.cert,))

    @staticmethod
    def _usage(*, signature: bool = False, encipherment: bool = False) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=signature, content_commitment=False,
                             key_encipherment=encipherment, data_encipherment=False, key_agreement=False,
                             key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)

    def issue_server(self, host: str = "localhost") -> Issued:
        """A TLS server certificate for ``host``, ``localhost`` and 127.0.0.1."""
        names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        if host not in ("localhost", "127.0.0.1"):
            names.insert(0, x509.DNSName(host))
        return self._issue(host, ec.generate_private_key(ec.SECP256R1()), san=names,
                           usage=self._usage(signature=True),
                           eku=[ExtendedKeyUsageOID.SERVER_AUTH])

    def issue_client(self, cn: str, *, key: rsa.RSAPrivateKey | None = None, valid_days: float = 30,
                     not_before: _dt.datetime | None = None) -> Issued:
        """A client / author certificate (TLS client auth and signatures) with common name ``cn``."""
        return self._issue(cn, key or rsa_key(f"client:{self.name}:{cn}"),
                           usage=self._usage(signature=True, encipherment=True),
                           eku=[ExtendedKeyUsageOID.CLIENT_AUTH], valid_days=valid_days, not_before=not_before)

    def issue_for_key(self, cn: str, key: rsa.RSAPrivateKey, *, wrap: bool) -> Issued:
        """The certificate behind a published JWK: key encipherment for ``wrapKey`` keys, else signatures."""
        return self._issue(cn, key, usage=self._usage(signature=not wrap, encipherment=wrap))

    # ---- TLS contexts ----------------------------------------------------------------------------------
    def server_context(self, *, host: str = "localhost", client_ca: TestCA | None = None) -> ssl.SSLContext:
        """A server context with a certificate from this CA; with ``client_ca`` clients must show a certificate
        issued by that CA (mTLS)."""
        issued = self.issue_server(host)
        crt, key = issued.write(self.folder, f"server-{uuid.uuid4().hex[:8]}")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(crt, key)
        if client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=client_ca.root_pem.decode())
        return ctx

    def client_context(self, client: Issued | None = None) -> ssl.SSLContext:
        """A client context that trusts only this CA (and shows ``client`` for mTLS)."""
        ctx = ssl.create_default_context(cadata=self.root_pem.decode())
        if client is not None:
            crt, key = client.write(self.folder, f"client-{uuid.uuid4().hex[:8]}")
            ctx.load_cert_chain(crt, key)
        return ctx

    def close(self) -> None:
        self._tmp.cleanup()
