"""The storage never follows anything out of itself and never reads more than asked (issue 10, drop zones are
untrusted input): links at any depth, FIFOs and oversized objects are refused, bad names are listed as refused
without aborting the listing, and what the local adapter creates is private."""
from __future__ import annotations

import os
import stat
import threading
from datetime import datetime, timedelta, timezone

import pytest

from erechnung.storage import (LocalStorage, ObjectTooLargeError, RefusedEntryError, RetainedError)


@pytest.fixture
def zone(tmp_path):
    return LocalStorage(tmp_path / "zone")


def test_a_linked_file_is_refused_not_read(zone, tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"GEHEIM")
    os.symlink(secret, zone.root / "passwd.csv")
    with pytest.raises(RefusedEntryError) as err:
        zone.get("passwd.csv")
    assert err.value.reason == "link"
    with pytest.raises(RefusedEntryError):
        zone.claim("passwd.csv", "claimed/passwd.csv")
    assert [(e.key, e.refused) for e in zone.entries()] == [("passwd.csv", "link")]
    assert list(zone.list()) == [] and not zone.exists("passwd.csv")


def test_a_linked_folder_is_neither_listed_through_nor_deleted_through(zone, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "kept.pdf").write_bytes(b"%PDF retained")
    os.symlink(target, zone.root / "claimed")
    assert [(e.key, e.refused) for e in zone.entries("claimed/")] == [("claimed", "link")]
    assert list(zone.list("claimed/")) == []
    with pytest.raises(RefusedEntryError):
        zone.get("claimed/kept.pdf")
    with pytest.raises(RefusedEntryError):
        zone.delete("claimed/kept.pdf")
    with pytest.raises(RefusedEntryError):
        zone.put("claimed/new.csv", b"x")
    assert sorted(p.name for p in target.iterdir()) == ["kept.pdf"]
    assert (target / "kept.pdf").read_bytes() == b"%PDF retained"


def test_a_linked_temporary_folder_is_not_written_through(zone, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (zone.root / ".tmp").rmdir()
    os.symlink(outside, zone.root / ".tmp")
    with pytest.raises(RefusedEntryError):
        zone.put("report.csv", b"personal data")
    assert list(outside.iterdir()) == []


def test_a_fifo_is_refused_without_blocking(zone):
    os.mkfifo(zone.root / "pipe.csv")
    result: list = []

    def read():
        try:
            zone.get("pipe.csv")
        except RefusedEntryError as exc:
            result.append(exc.reason)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():
        os.close(os.open(zone.root / "pipe.csv", os.O_WRONLY | os.O_NONBLOCK))
        raise AssertionError("reading a FIFO blocked")
    assert result == ["special"]
    assert [(e.key, e.refused) for e in zone.entries()] == [("pipe.csv", "special")]
    with pytest.raises(RefusedEntryError):
        zone.claim("pipe.csv", "claimed/pipe.csv")


def test_names_no_key_may_have_are_listed_as_refused_and_the_listing_goes_on(zone):
    for name in ("a\x01.csv", "b\\c.csv", "d.csv"):
        (zone.root / name).write_bytes(b"x")
    (zone.root / "e\xff.csv".encode("latin-1").decode("utf-8", "surrogateescape")).write_bytes(b"x")
    entries = {e.key: e.refused for e in zone.entries()}
    assert entries["d.csv"] is None and list(zone.list()) == ["d.csv"]
    assert sorted(r for r in entries.values() if r) == ["name", "name", "name"]


def test_s3_keys_no_key_may_have_are_refused_and_the_listing_goes_on(new_bucket, s3_client, s3_endpoint):
    from erechnung.storage.s3 import S3Storage

    from .conftest import CREDENTIALS

    bucket = new_bucket()
    for key in ("zone/a/../b.csv", "zone/c\x01.csv", "zone/d\\e.csv", "zone/f.csv", "zone/folder/", "zone/.x"):
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"x")
    storage = S3Storage(bucket, "zone", endpoint_url=s3_endpoint, **CREDENTIALS)
    entries = {e.key: e.refused for e in storage.entries()}
    assert entries == {"a/../b.csv": "name", "c\x01.csv": "name", "d\\e.csv": "name", "f.csv": None}
    assert list(storage.list()) == ["f.csv"]


def test_an_object_over_the_bound_is_refused_and_never_read_whole(storage):
    storage.put("big.csv", b"x" * 5000)
    storage.put("small.csv", b"x" * 100)
    with pytest.raises(ObjectTooLargeError) as err:
        storage.get("big.csv", max_bytes=4000)
    assert err.value.limit == 4000
    assert storage.get("small.csv", max_bytes=4000) == b"x" * 100
    assert storage.get("big.csv", max_bytes=5000) == b"x" * 5000
    with pytest.raises(ObjectTooLargeError):
        storage.claim("big.csv", "claimed/big.csv", max_bytes=4000)
    assert storage.exists("big.csv") and not storage.exists("claimed/big.csv")
    assert {e.key: e.size for e in storage.entries()} == {"big.csv": 5000, "small.csv": 100}


def test_what_the_local_storage_creates_is_private(zone):
    zone.put("a/b/report.html", b"personal", retention_until=datetime.now(timezone.utc) + timedelta(days=1))
    assert stat.S_IMODE((zone.root / "a" / "b" / "report.html").stat().st_mode) == 0o600
    for folder in (zone.root / "a", zone.root / "a" / "b", zone.root / ".tmp", zone.root / ".retention"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((zone.root / ".retention" / "a" / "b" / "report.html").stat().st_mode) == 0o600
    with pytest.raises(RetainedError):
        zone.delete("a/b/report.html")
