"""Whether a Peppol certificate is one of the network's: issued (directly or through the CA certificates given) by
one of the configured roots, valid at the moment that matters, and, where a purpose is asked, issued by the CA of
that purpose (an access point's certificate by the AP CA, an SMP's by the SMP CA: Peppol's PKI keeps the two
apart, Peppol PKI policy § 4).

The chain is built by issuer name and checked signature by signature (``verify_directly_issued_by``), each issuer a
CA (basic constraints), each certificate valid at ``at``. Revocation (the CAs' CRLs and OCSP) is not checked here:
the sandbox's CAs publish none; ``PeppolChannel.trust`` says in the configuration which roots are trusted.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from erechnung.errors import ErechnungError

__all__ = ["CertificateRejected", "check_certificate", "common_name", "load_certificates"]

_MAX_CHAIN = 6
_DER = Encoding.DER


class CertificateRejected(ErechnungError):
    """A certificate is not one of the Peppol network's (the message says which and why)."""


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (a trust store file)."""
    return x509.load_pem_x509_certificates(pem)


def _valid_at(cert: x509.Certificate, at: _dt.datetime, what: str) -> None:
    if at < cert.not_valid_before_utc:
        raise CertificateRejected(f"{what} ({common_name(cert)}) ist erst ab "
                                  f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC gültig")
    if at > cert.not_valid_after_utc:
        raise CertificateRejected(f"{what} ({common_name(cert)}) ist am "
                                  f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC abgelaufen")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check_certificate(cert: x509.Certificate, *, roots: Sequence[x509.Certificate],
                      intermediates: Iterable[x509.Certificate] = (), at: _dt.datetime,
                      issuer_cn: str | None = None, what: str = "das Zertifikat") -> list[x509.Certificate]:
    """Check ``cert`` and return its chain (``cert`` first, the root last); raise :class:`CertificateRejected`
    (its message in German, for the clerk; ``what`` names the certificate, e.g. ``das Signaturzertifikat des
    SMP``).

    ``issuer_cn``: the common name the direct issuer must have (the purpose's CA, e.g. ``PEPPOL ACCESS POINT TEST
    CA - G2``); None accepts any CA under the roots."""
    if at.tzinfo is None:
        raise ValueError("at must carry a time zone")
    pool = list(intermediates) + list(roots)
    root_der = {r.public_bytes(_DER) for r in roots}
    chain = [cert]
    _valid_at(cert, at, what)
    current = cert
    while current.public_bytes(_DER) not in root_der:
        if len(chain) > _MAX_CHAIN:
            raise CertificateRejected(f"{what} ({common_name(cert)}): die Kette ist länger als {_MAX_CHAIN}")
        issuer = _issuer_of(current, pool)
        if issuer is None or issuer.public_bytes(_DER) == current.public_bytes(_DER):
            raise CertificateRejected(
                f"{what} ({common_name(cert)}) wurde nicht unter einer vertrauenswürdigen Peppol-Wurzel ausgestellt: "
                f"kein Aussteller '{current.issuer.rfc4514_string()}' unter den Vertrauensankern")
        if len(chain) == 1 and issuer_cn is not None and common_name(issuer) != issuer_cn:
            raise CertificateRejected(f"{what} ({common_name(cert)}) wurde von '{common_name(issuer)}' ausgestellt, "
                                      f"nicht von '{issuer_cn}'")
        if not _is_ca(issuer):
            raise CertificateRejected(f"{what}: sein Aussteller '{common_name(issuer)}' ist keine CA")
        _valid_at(issuer, at, f"{what}: sein Aussteller")
        chain.append(issuer)
        current = issuer
    return chain


def _issuer_of(cert: x509.Certificate, pool: Iterable[x509.Certificate]) -> x509.Certificate | None:
    for candidate in pool:
        if candidate.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (InvalidSignature, ValueError, TypeError):  # not signed by this one, or another key type
            continue
        return candidate
    return None

