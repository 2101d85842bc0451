"""``erechnung archive verify``: every archived item hashed again and its retention checked against the policy, so
that a changed byte is found by the audit and not only when a delivery reads the document. Exit 1 on any finding;
``--json`` one object per finding and the totals."""
from __future__ import annotations

import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from erechnung.archive import Archive, ArchiveKind, RetentionPolicy, content_key
from erechnung.entrypoints.cli.archive import run_archive_verify
from erechnung.entrypoints.cli import main
from erechnung.storage.local import LocalStorage

MARCH_2026 = datetime(2026, 3, 5, 10, 30, tzinfo=timezone.utc)


def _site(tmp_path: Path) -> tuple[Path, Archive]:
    from erechnung.entrypoints.demo.pipeline import config_text

    config = tmp_path / "config.toml"
    config.write_text(config_text(tmp_path), encoding="utf-8")  # archive: tmp_path/archive, 8 / 10 years
    return config, Archive(LocalStorage(tmp_path / "archive"), RetentionPolicy(), clock=lambda: MARCH_2026)


def _put(archive: Archive, data: bytes, document_kind: str = "invoice"):
    return archive.put(data, kind=ArchiveKind.DOCUMENT, department="kasse", media_type="application/xml",
                       document_kind=document_kind)


def _verify(config: Path) -> tuple[int, list[dict]]:
    out = io.StringIO()
    code = run_archive_verify(config, as_json=True, out=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_an_intact_archive_verifies(tmp_path):
    config, archive = _site(tmp_path)
    for n in range(3):
        _put(archive, f"<Invoice>{n}</Invoice>".encode())
    _put(archive, b"%PDF notice", document_kind="notice")
    code, lines = _verify(config)
    assert code == 0 and lines == [{"totals": {"items": 4, "findings": 0, "by_problem": {}}}]
    assert main(["archive", "verify", "--config", str(config)]) == 0


def test_one_flipped_byte_of_an_archived_object_is_found(tmp_path):
    config, archive = _site(tmp_path)
    good = _put(archive, b"<Invoice>RE-2026-000001</Invoice>")
    bad = _put(archive, b"<Invoice>RE-2026-000002</Invoice>")
    path = tmp_path / "archive" / content_key(bad.sha256)
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))
    code, lines = _verify(config)
    assert code == 1
    findings, totals = lines[:-1], lines[-1]["totals"]
    assert [(f["sha256"], f["problem"]) for f in findings] == [(bad.sha256, "hash_mismatch")]
    assert good.sha256 not in json.dumps(findings)
    assert totals == {"items": 2, "findings": 1, "by_problem": {"hash_mismatch": 1}}
    assert main(["archive", "verify", "--config", str(config)]) == 1


def test_a_retention_shorter_than_the_policy_is_found(tmp_path):
    config, archive = _site(tmp_path)
    _put(archive, b"<Invoice>kept 8 years</Invoice>")
    short = Archive(archive.storage, RetentionPolicy(invoice_years=2), clock=lambda: MARCH_2026)
    item = _put(short, b"<Invoice>kept 2 years only</Invoice>")
    code, lines = _verify(config)
    assert code == 1
    assert {(f["key"], f["problem"]) for f in lines[:-1]} == {
        (content_key(item.sha256), "retention_too_short"), (content_key(item.sha256) + ".json", "retention_too_short")}
    assert "2029-01-01" in lines[0]["detail"] and "2035-01-01" in lines[0]["detail"]


def test_content_without_retention_or_metadata_is_found(tmp_path):
    config, archive = _site(tmp_path)
    data = b"<Invoice>put around the archive</Invoice>"
    item = _put(archive, b"<Invoice>ok</Invoice>")
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    archive.storage.put(content_key(sha), data)  # no retention, no metadata: not through Archive.put
    code, lines = _verify(config)
    assert code == 1
    assert [(f["sha256"], f["problem"]) for f in lines[:-1]] == [(sha, "metadata_missing")]
    assert item.sha256 not in json.dumps(lines)
