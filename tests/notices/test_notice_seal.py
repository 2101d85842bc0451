"""The electronic seal (PAdES) on a notice, verified against a test PKI of our own (see conftest.py)."""
from __future__ import annotations

import io
import logging
from functools import lru_cache

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader

from erechnung.documents.checks import pdfa_problems
from erechnung.documents.hybrid import extract_invoice_xml
from erechnung.notices import assess
from erechnung.notices.render import render_notice
from erechnung.notices.seal import SealError, SealSettings, Secret, read_password_file, seal_pdf, verify_seals

from .samples import SEAL_PASSWORD, draft


@lru_cache(maxsize=1)
def _unsealed() -> bytes:
    return render_notice(assess(draft("grundsteuerbescheid")), sealed=True)


@pytest.fixture(scope="module")
def sealed(test_pki) -> bytes:
    settings = SealSettings(p12_path=test_pki.p12_path, password=read_password_file(test_pki.password_file))
    return seal_pdf(_unsealed(), settings)


def test_sealed_notice_verifies_and_tampering_is_detected(sealed, test_pki):
    (status,) = verify_seals(sealed, [test_pki.root])
    assert status.intact and status.valid and status.trusted and status.ok
    assert status.covers_whole_file
    assert "Stadt Musterstadt - Elektronisches Siegel (TEST)" in status.signer
    # one byte changed in the signed revision: the digest no longer matches
    at = sealed.index(b"Grundsteuerbescheid")  # in the XMP/Info, inside the signed byte range
    tampered = sealed[:at] + b"X" + sealed[at + 1:]
    (broken,) = verify_seals(tampered, [test_pki.root])
    assert not broken.intact and not broken.ok


def test_seal_is_not_trusted_under_another_root(sealed, test_pki):
    (status,) = verify_seals(sealed, [test_pki.other_root])
    assert status.intact and status.valid and not status.trusted and not status.ok


def test_seal_is_pades_baseline_b(sealed):
    reader = PdfFileReader(io.BytesIO(sealed))
    (sig,) = reader.embedded_signatures
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    signed_attrs = {a["type"].native for a in sig.signer_info["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_certificate_v2"} <= signed_attrs
    assert "signing_time" not in signed_attrs  # PAdES: the time is /M in the signature dictionary
    assert "/M" in sig.sig_object
    assert sig.signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    assert isinstance(sig.signed_data, cms.SignedData)


def test_sealing_keeps_the_pdfa3_and_its_claim(sealed):
    unsealed = _unsealed()
    assert sealed.startswith(unsealed), "the seal is an incremental update; the signed revision is unchanged"
    assert pdfa_problems(sealed) == []
    assert extract_invoice_xml(sealed)[1] == extract_invoice_xml(unsealed)[1]


def test_the_seal_password_never_shows(test_pki, caplog, capsys):
    settings = SealSettings(p12_path=test_pki.p12_path, password=Secret(b"Falsch-Geheim-4711"))
    assert "Falsch" not in repr(settings) and "Falsch" not in str(settings.password)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SealError) as raised:
        seal_pdf(_unsealed(), settings)
    assert "wrong password or not a PKCS#12" in str(raised.value)
    right = SealSettings(p12_path=test_pki.p12_path, password=read_password_file(test_pki.password_file))
    seal_pdf(_unsealed(), right)
    shown = str(raised.value) + caplog.text + "".join(capsys.readouterr()) + repr(right)
    for secret in ("Falsch-Geheim-4711", SEAL_PASSWORD):
        assert secret not in shown
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_seal_settings_from_the_environment(test_pki, tmp_path):
    assert SealSettings.from_environment({}) is None
    env = {"ERECHNUNG_SEAL_P12": str(test_pki.p12_path), "ERECHNUNG_SEAL_PASSWORD_FILE": str(test_pki.password_file)}
    settings = SealSettings.from_environment(env)
    assert settings.password.reveal() == SEAL_PASSWORD.encode("utf-8")  # the file's line break is not part of it
    env = {"ERECHNUNG_SEAL_P12": str(test_pki.p12_path), "ERECHNUNG_SEAL_PASSWORD": SEAL_PASSWORD}
    assert SealSettings.from_environment(env).password.reveal() == SEAL_PASSWORD.encode("utf-8")
    with pytest.raises(SealError, match="ERECHNUNG_SEAL_PASSWORD"):
        SealSettings.from_environment({"ERECHNUNG_SEAL_P12": str(test_pki.p12_path)})


def test_a_sealed_notice_says_so(tmp_path):
    import subprocess

    source = tmp_path / "n.pdf"
    source.write_bytes(_unsealed())
    text = subprocess.run(["pdftotext", str(source), "-"], capture_output=True, text=True, check=True).stdout
    assert "elektronischen Siegel" in " ".join(text.split())
