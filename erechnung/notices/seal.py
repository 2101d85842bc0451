"""An electronic seal on a notice: PAdES (ETSI EN 319 142) with pyHanko, appended as an incremental update.

Where a notice must be in writing, a qualified electronic seal of the authority on the PDF/A replaces the
handwritten signature (§ 3a Abs. 2 VwVfG, § 87a Abs. 4 AO; eIDAS Art. 35). The seal is made with the
authority's certificate from a PKCS#12 file; its password comes from the environment or a file and is never
logged, printed or put into an exception.

What ``seal_pdf`` produces: a PAdES baseline B-B signature (SubFilter ``ETSI.CAdES.detached``, SHA-256, the
ESS signing-certificate-v2 attribute binding the certificate, no signing time in the signed attributes but
``/M`` in the signature dictionary), or B-T when a time-stamping service is given. The signature field is
invisible (no appearance stream that would need a font the PDF/A does not embed), and the signature is
appended as an incremental update: the signed revision, its fonts, output intent and attachments stay
byte-for-byte what the renderer wrote.

The metadata is left as the renderer wrote it. pyHanko by default rewrites the XMP packet and the Info
dictionary on every write (``/ModDate``, ``/Producer``): it re-serialises the XMP with the Factur-X extension
schema in a form our PDF/A check cannot read and makes Info's Producer differ from XMP's (ISO 19005-3
6.6.2.3.1). ``_KeepMetadataWriter`` turns that off; the time of sealing is in the signature's ``/M``.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from .model import NoticeError

#: Environment variables for the seal's configuration (the password never goes on a command line).
ENV_P12 = "ERECHNUNG_SEAL_P12"
ENV_PASSWORD = "ERECHNUNG_SEAL_PASSWORD"
ENV_PASSWORD_FILE = "ERECHNUNG_SEAL_PASSWORD_FILE"

SUBFILTER_PADES = "/ETSI.CAdES.detached"


class SealError(NoticeError):
    """The seal cannot be made or does not verify; the message never contains the password."""


class Secret:
    """A password that does not show itself in ``repr``, ``str`` or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


def read_password_file(path: Path | str) -> Secret:
    """The password in ``path`` (one trailing line break is not part of it)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SealError(f"cannot read the seal password file {path}: {exc.strerror or 'error'}") from None
    return Secret(data[:-2] if data.endswith(b"\r\n") else data[:-1] if data.endswith(b"\n") else data)


@dataclass(frozen=True)
class SealSettings:
    """Where the seal's key is and how it is described in the signature."""

    p12_path: Path
    password: Secret = field(repr=False)
    field_name: str = "Siegel"
    reason: str | None = "Bescheid, elektronisch gesiegelt"
    location: str | None = None
    extra_certificates: tuple[Path, ...] = ()  # intermediate CA certificates not in the PKCS#12 file

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None, **kwargs) -> SealSettings | None:
        """From ``ERECHNUNG_SEAL_P12`` with ``ERECHNUNG_SEAL_PASSWORD_FILE`` (preferred) or
        ``ERECHNUNG_SEAL_PASSWORD``; None when no certificate is configured (notices go out unsealed)."""
        env = os.environ if env is None else env
        p12 = env.get(ENV_P12)
        if not p12:
            return None
        if env.get(ENV_PASSWORD_FILE):
            password = read_password_file(env[ENV_PASSWORD_FILE])
        elif ENV_PASSWORD in env:
            password = Secret(env[ENV_PASSWORD].encode("utf-8"))
        else:
            raise SealError(f"{ENV_P12} is set, but neither {ENV_PASSWORD_FILE} nor {ENV_PASSWORD}")
        return cls(p12_path=Path(p12), password=password, **kwargs)


def _signer(settings: SealSettings):
    from asn1crypto import pem, x509
    from pyhanko.sign import signers

    try:
        data = settings.p12_path.read_bytes()
    except OSError as exc:
        raise SealError(f"cannot read the seal certificate {settings.p12_path}: {exc.strerror or 'error'}") from None
    others = []
    for path in settings.extra_certificates:
        raw = path.read_bytes()
        if pem.detect(raw):
            others.extend(x509.Certificate.load(der) for _, _, der in pem.unarmor(raw, multiple=True))
        else:
            others.append(x509.Certificate.load(raw))
    try:
        return signers.SimpleSigner.load_pkcs12_data(data, other_certs=others,
                                                     passphrase=settings.password.reveal() or None)
    except ValueError:
        # the cause may quote internals; the message names the file and what to check, nothing else
        raise SealError(f"cannot open the seal certificate {settings.p12_path}: wrong password or not a PKCS#12 "
                        f"file with a key and certificate") from None


def _keep_metadata_writer(pdf: bytes):
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    class _KeepMetadataWriter(IncrementalPdfFileWriter):
        """An incremental writer that leaves the XMP and the Info dictionary alone (see the module docstring)."""

        def _update_meta(self) -> None:
            return None

    return _KeepMetadataWriter(BytesIO(pdf))


def seal_pdf(pdf: bytes, settings: SealSettings, *, timestamper=None) -> bytes:
    """``pdf`` with a PAdES seal appended (B-B; B-T with a pyHanko ``timestamper``)."""
    from pyhanko.sign import fields, signers

    signer = _signer(settings)
    meta = signers.PdfSignatureMetadata(
        field_name=settings.field_name, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=settings.reason, location=settings.location)
    writer = _keep_metadata_writer(pdf)
    out = signers.sign_pdf(writer, meta, signer=signer, timestamper=timestamper,
                           new_field_spec=fields.SigFieldSpec(sig_field_name=settings.field_name))
    return out.getvalue()


@dataclass(frozen=True)
class SealStatus:
    """What validating a seal found."""

    field_name: str
    intact: bool  # the signed bytes hash to the signed digest
    valid: bool  # the signature over the signed attributes verifies with the certificate's key
    trusted: bool  # the certificate chains to one of the given roots (and may be used for seals)
    signer: str  # the certificate's subject, human readable
    subfilter: str
    md_algorithm: str
    covers_whole_file: bool  # nothing was appended after the signature
    summary: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted


def verify_seals(pdf: bytes, trust_roots: Iterable) -> list[SealStatus]:
    """Validate every signature in ``pdf`` against ``trust_roots`` (asn1crypto or ``cryptography``
    certificates) with pyHanko; no network access (revocation is checked only where information is embedded)."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.pdf_embedded import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    roots = []
    for cert in trust_roots:
        if not isinstance(cert, asn1_x509.Certificate):
            from cryptography.hazmat.primitives.serialization import Encoding

            cert = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
        roots.append(cert)
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    results = []
    for sig in reader.embedded_signatures:
        try:
            status = validate_pdf_signature(sig, context, key_usage_settings=KeyUsageConstraints(
                key_usage={"non_repudiation"}))
        except Exception as exc:  # a damaged signature is a failed seal, not a crash
            results.append(SealStatus(sig.field_name, False, False, False, "", "", "", False,
                                      f"cannot validate: {type(exc).__name__}: {exc}"))
            continue
        results.append(SealStatus(
            field_name=sig.field_name, intact=status.intact, valid=status.valid, trusted=status.trusted,
            signer=status.signing_cert.subject.human_friendly,
            subfilter=str(sig.sig_object.get("/SubFilter")), md_algorithm=status.md_algorithm,
            covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
            summary=status.summary()))
    return results
