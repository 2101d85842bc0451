"""The archive's guarantees (content-addressed, never overwritten, retained per GoBD), on a folder and on S3."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from erechnung.archive import Archive, ArchiveError, ArchiveKind, RetentionPolicy, content_key
from erechnung.storage import RetainedError

MARCH_2026 = datetime(2026, 3, 5, 10, 30, tzinfo=timezone.utc)
INVOICE = b"<Invoice>RE-2026-000001</Invoice>"


@pytest.fixture
def archive(storage):
    return Archive(storage, clock=lambda: MARCH_2026)


def _put(archive, data=INVOICE, **kw):
    args = dict(kind=ArchiveKind.DOCUMENT, department="kasse", media_type="application/xml",
                document_kind="invoice", document_id="17", original_name="RE-2026-000001.xml")
    return archive.put(data, **{**args, **kw})


def test_item_is_stored_under_its_sha256_with_metadata(archive, storage):
    item = _put(archive)
    sha = hashlib.sha256(INVOICE).hexdigest()
    assert item.sha256 == sha and item.newly_stored
    assert item.key == f"sha256/{sha[:2]}/{sha[2:4]}/{sha}"
    assert storage.get(item.key) == INVOICE
    meta = json.loads(storage.get(item.key + ".json"))
    assert meta == {"sha256": sha, "size": len(INVOICE), "kind": "document", "department": "kasse",
                    "media_type": "application/xml", "document_kind": "invoice", "document_id": "17",
                    "original_name": "RE-2026-000001.xml", "created": "2026-03-05T10:30:00+00:00",
                    "retention_until": "2035-01-01T00:00:00+00:00", "schema": 1}
    assert archive.item(sha) == item


def test_archived_object_is_never_overwritten(archive, storage):
    item = _put(archive)
    with pytest.raises(RetainedError):
        storage.put(item.key, b"<Invoice>forged</Invoice>")
    with pytest.raises(RetainedError):
        storage.put(item.meta_key, b"{}")
    assert archive.get(item.sha256) == INVOICE
    assert archive.item(item.sha256).original_name == "RE-2026-000001.xml"


def test_same_content_archived_twice_is_stored_once(archive, storage):
    first = _put(archive)
    again = _put(archive, original_name="copy.xml", kind=ArchiveKind.REPORT)
    assert again.sha256 == first.sha256 and not again.newly_stored
    assert again.original_name == "RE-2026-000001.xml"  # the first metadata stays
    assert list(storage.list("sha256/")) == [first.key, first.meta_key]


def test_archived_item_cannot_be_deleted_before_retention_ends(archive, storage):
    item = _put(archive)
    with pytest.raises(RetainedError):
        storage.delete(item.key)
    assert archive.verify(item.sha256)


def test_invoice_retention_is_eight_years_after_the_end_of_the_year_of_creation():
    policy = RetentionPolicy()
    assert policy.until("invoice", MARCH_2026) == datetime(2035, 1, 1, tzinfo=timezone.utc)
    assert policy.until("credit_note", datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc)) == \
        datetime(2035, 1, 1, tzinfo=timezone.utc)


def test_notice_retention_follows_configuration():
    policy = RetentionPolicy.from_config({"notice_years": 6, "notice_kinds": {"grundsteuerbescheid": 30}})
    assert policy.until("notice", MARCH_2026) == datetime(2033, 1, 1, tzinfo=timezone.utc)
    assert policy.until("notice", MARCH_2026, "grundsteuerbescheid") == datetime(2057, 1, 1, tzinfo=timezone.utc)
    assert policy.until("invoice", MARCH_2026) == datetime(2035, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ArchiveError):
        RetentionPolicy.from_config({"invoice_year": 8})
    with pytest.raises(ArchiveError):
        RetentionPolicy.from_config({"notice_years": 0})


def test_verify_recomputes_the_hash_and_finds_damaged_content(archive, storage, tmp_path):
    item = _put(archive)
    other = _put(archive, b"<Invoice>RE-2026-000002</Invoice>", document_id="18")
    assert archive.verify(item.sha256)
    # Damage one object behind the archive's back (as a failing disk or an administrator could).
    if hasattr(storage, "root"):
        (storage.root / item.key).chmod(0o644)
        (storage.root / item.key).write_bytes(b"bit rot")
    else:
        storage.client.put_object(Bucket=storage.bucket, Key=storage.prefix + item.key, Body=b"bit rot")
    assert not archive.verify(item.sha256)
    assert dict(archive.verify_all()) == {item.sha256: False, other.sha256: True}
    with pytest.raises(ArchiveError, match="damaged"):
        archive.get(item.sha256)
    assert not archive.verify("0" * 64)


def test_crash_between_content_and_metadata_is_completed_by_the_next_put(archive, storage):
    sha = hashlib.sha256(INVOICE).hexdigest()
    storage.put(content_key(sha), INVOICE, if_absent=True)  # the state a crash after the first write leaves
    item = _put(archive)
    assert item.newly_stored and archive.item(sha).document_id == "17"


def test_unknown_item_is_an_archive_error(archive):
    with pytest.raises(ArchiveError):
        archive.item("a" * 64)
    with pytest.raises(ArchiveError):
        archive.get("a" * 64)
    with pytest.raises(ArchiveError):
        archive.get("../../etc/passwd")


def test_archive_is_domain_code_that_imports_no_boto3():
    code = ("import sys, erechnung.archive, erechnung.storage; "
            "assert 'boto3' not in sys.modules and 'prefect' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
