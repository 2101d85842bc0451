"""``erechnung notice render NOTICE.json -o OUT.pdf [--seal P12 --seal-password-file F]`` and ``notice verify``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from erechnung.documents.checks import pdfa_problems
from erechnung.notices.seal import verify_seals

from .samples import EXAMPLES, SEAL_PASSWORD

ERECHNUNG = [sys.executable, "-m", "erechnung", "notice"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ERECHNUNG_SEAL")}
    return subprocess.run([*ERECHNUNG, *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **(env or {})})


def test_render_a_sample_notice_from_its_json(tmp_path):
    out = tmp_path / "hund.pdf"
    proc = run("render", str(EXAMPLES / "hundesteuerbescheid.json"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "with XRechnung claim" in proc.stderr
    assert pdfa_problems(out.read_bytes()) == []


def test_render_sealed_and_verify_against_the_root(tmp_path, test_pki):
    out = tmp_path / "grundsteuer.pdf"
    proc = run("render", str(EXAMPLES / "grundsteuerbescheid.json"), "-o", str(out), "--seal",
               str(test_pki.p12_path), "--seal-password-file", str(test_pki.password_file))
    assert proc.returncode == 0, proc.stderr
    assert SEAL_PASSWORD not in proc.stdout + proc.stderr
    (status,) = verify_seals(out.read_bytes(), [test_pki.root])
    assert status.ok
    root = tmp_path / "root.pem"
    root.write_bytes(test_pki.root.public_bytes(Encoding.PEM))
    proc = run("verify", str(out), "--trust", str(root))
    assert proc.returncode == 0 and "Siegel: OK" in proc.stdout, proc.stdout + proc.stderr
    other = tmp_path / "other.der"
    other.write_bytes(test_pki.other_root.public_bytes(Encoding.DER))
    proc = run("verify", str(out), "--trust", str(other))
    assert proc.returncode == 1 and "FAILED" in proc.stdout


def test_seal_from_the_environment(tmp_path, test_pki):
    out = tmp_path / "gebuehr.pdf"
    proc = run("render", str(EXAMPLES / "gebuehrenbescheid-sondernutzung.json"), "-o", str(out),
               env={"ERECHNUNG_SEAL_P12": str(test_pki.p12_path), "ERECHNUNG_SEAL_PASSWORD": SEAL_PASSWORD})
    assert proc.returncode == 0, proc.stderr
    assert "sealed" in proc.stderr and verify_seals(out.read_bytes(), [test_pki.root])[0].ok


def test_wrong_seal_password_fails_without_showing_it(tmp_path, test_pki):
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("Nicht-das-Passwort-0815\n", encoding="utf-8")
    out = tmp_path / "x.pdf"
    proc = run("render", str(EXAMPLES / "hundesteuerbescheid.json"), "-o", str(out), "--seal",
               str(test_pki.p12_path), "--seal-password-file", str(wrong))
    assert proc.returncode == 1 and "wrong password" in proc.stderr
    assert "Nicht-das-Passwort" not in proc.stdout + proc.stderr and not out.exists()


def test_a_broken_notice_is_reported_by_field(tmp_path):
    data = json.loads((EXAMPLES / "hundesteuerbescheid.json").read_text(encoding="utf-8"))
    del data["file_number"]
    data["assessment"]["dogs"] = [{"name": "Rex", "dangerous": True}]
    data["assessment"]["dangerous_rate"] = None
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    proc = run("render", str(broken), "-o", str(tmp_path / "b.pdf"))
    assert proc.returncode == 1 and "file_number" in proc.stderr
    assert run("render", str(tmp_path / "missing.json"), "-o", str(tmp_path / "m.pdf")).returncode == 2


def test_render_without_claim(tmp_path):
    out = tmp_path / "ohne.pdf"
    proc = run("render", str(EXAMPLES / "hundesteuerbescheid.json"), "-o", str(out), "--no-claim")
    assert proc.returncode == 0 and "without payment claim" in proc.stderr
