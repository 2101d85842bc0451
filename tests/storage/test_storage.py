"""The storage port's guarantees, each checked on a local folder and on a real S3 server (moto on loopback)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from erechnung.storage import (InvalidKeyError, LocalStorage, ObjectNotFoundError, RetainedError, StorageError,
                               open_storage)

FUTURE = datetime.now(timezone.utc) + timedelta(days=30)
PAST = datetime.now(timezone.utc) - timedelta(days=1)


def _race(n: int, fn):
    """Run ``fn(i)`` for i in range(n) in n threads released together; the results in order."""
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def test_stored_bytes_read_back_unchanged(storage):
    data = bytes(range(256)) * 10
    assert storage.put("inbox/kasse/batch.csv", data) is True
    assert storage.get("inbox/kasse/batch.csv") == data
    assert storage.exists("inbox/kasse/batch.csv")
    assert not storage.exists("inbox/kasse/other.csv")


def test_missing_object_is_reported_as_not_found(storage):
    with pytest.raises(ObjectNotFoundError):
        storage.get("nothing/here")
    with pytest.raises(KeyError):  # also a KeyError, for callers that treat storage like a mapping
        storage.get("nothing/here")


def test_put_if_absent_never_overwrites(storage):
    assert storage.put("a/b", b"first", if_absent=True) is True
    assert storage.put("a/b", b"second", if_absent=True) is False
    assert storage.get("a/b") == b"first"


def test_plain_put_replaces_an_unretained_object(storage):
    storage.put("a/b", b"first")
    assert storage.put("a/b", b"second") is True
    assert storage.get("a/b") == b"second"


def test_of_concurrent_if_absent_writers_exactly_one_wins(storage):
    results = _race(8, lambda i: storage.put("race/key", f"writer {i}".encode() * 1000, if_absent=True))
    assert results.count(True) == 1
    winner = results.index(True)
    assert storage.get("race/key") == f"writer {winner}".encode() * 1000


def test_listing_returns_keys_under_the_prefix_in_order(storage):
    for key in ("inbox/b.csv", "inbox/a.csv", "inbox/sub/c.csv", "inbox-other/x", "archive/y"):
        storage.put(key, b"x")
    assert list(storage.list("inbox/")) == ["inbox/a.csv", "inbox/b.csv", "inbox/sub/c.csv"]
    assert list(storage.list("inbox")) == ["inbox-other/x", "inbox/a.csv", "inbox/b.csv", "inbox/sub/c.csv"]
    assert list(storage.list("nothing/")) == []
    assert sorted(storage.list()) == list(storage.list())
    assert len(list(storage.list())) == 5


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "a/../../b", "a//b", "a/./b", "a\\b",
                                 ".tmp/x", "a/.retention/b", "a/b\n"])
def test_keys_that_could_escape_or_collide_with_internals_are_refused(storage, key):
    with pytest.raises(InvalidKeyError):
        storage.put(key, b"x")
    with pytest.raises(InvalidKeyError):
        storage.get(key)


def test_delete_removes_the_object_and_tolerates_a_missing_one(storage):
    storage.put("a/b", b"x")
    storage.delete("a/b")
    assert not storage.exists("a/b")
    storage.delete("a/b")


def test_retained_object_can_be_neither_deleted_nor_overwritten(storage):
    storage.put("archive/x", b"original", retention_until=FUTURE)
    assert storage.retention("archive/x") >= FUTURE - timedelta(seconds=1)
    with pytest.raises(RetainedError):
        storage.delete("archive/x")
    with pytest.raises(RetainedError):
        storage.put("archive/x", b"forged")
    assert storage.get("archive/x") == b"original"


def test_object_whose_retention_ran_out_can_be_deleted(storage):
    storage.put("archive/x", b"old", retention_until=PAST)
    storage.delete("archive/x")
    assert not storage.exists("archive/x")


def test_dropped_batch_is_claimed_exactly_once_by_concurrent_claimers(storage):
    storage.put("inbox/kasse/batch.csv", b"row1\nrow2\n")
    results = _race(8, lambda i: storage.claim("inbox/kasse/batch.csv", "claimed/inbox/kasse/batch.csv"))
    assert results.count(True) == 1
    assert not storage.exists("inbox/kasse/batch.csv")
    assert storage.get("claimed/inbox/kasse/batch.csv") == b"row1\nrow2\n"


def test_claiming_a_vanished_batch_returns_false(storage):
    assert storage.claim("inbox/none.csv", "claimed/inbox/none.csv") is False


def test_second_claim_after_a_finished_claim_returns_false(storage):
    storage.put("inbox/b.csv", b"x")
    assert storage.claim("inbox/b.csv", "claimed/inbox/b.csv") is True
    assert storage.claim("inbox/b.csv", "claimed/inbox/b.csv") is False


def test_claim_interrupted_before_removing_the_source_is_cleaned_up_by_the_next_claim(storage):
    # The state a crash between "copy to claimed" and "remove source" leaves: the bytes are in both places.
    storage.put("inbox/b.csv", b"same bytes")
    storage.put("claimed/inbox/b.csv", b"same bytes")
    if isinstance(storage, LocalStorage):  # locally the claimed object is a hard link of the source
        storage.delete("claimed/inbox/b.csv")
        import os
        os.link(storage.root / "inbox" / "b.csv", storage.root / "claimed" / "inbox" / "b.csv")
    assert storage.claim("inbox/b.csv", "claimed/inbox/b.csv") is False  # it was claimed before the crash
    assert not storage.exists("inbox/b.csv")
    assert storage.get("claimed/inbox/b.csv") == b"same bytes"


def test_claim_never_overwrites_a_different_object_at_the_claimed_key(storage):
    storage.put("inbox/b.csv", b"new batch, same name")
    storage.put("claimed/inbox/b.csv", b"the batch claimed last month")
    assert storage.claim("inbox/b.csv", "claimed/inbox/b.csv") is False
    assert storage.get("claimed/inbox/b.csv") == b"the batch claimed last month"
    assert storage.get("inbox/b.csv") == b"new batch, same name"


def test_open_storage_chooses_the_adapter_by_url(tmp_path):
    assert isinstance(open_storage(str(tmp_path / "a")), LocalStorage)
    local = open_storage((tmp_path / "b").as_uri())
    assert isinstance(local, LocalStorage) and local.root == tmp_path / "b"
    with pytest.raises(ValueError):
        open_storage("ftp://host/x")


def test_open_storage_reads_s3_options_from_the_url(s3_endpoint, s3_client, new_bucket, monkeypatch):
    from erechnung.storage.s3 import S3Storage

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    bucket = new_bucket(object_lock=True)
    st = open_storage(f"s3://{bucket}/tenant/a?endpoint_url={s3_endpoint}&region=eu-central-1&object_lock=governance")
    assert isinstance(st, S3Storage)
    assert (st.bucket, st.prefix, st.object_lock_mode) == (bucket, "tenant/a/", "GOVERNANCE")
    st.put("k", b"v")
    assert s3_client.get_object(Bucket=bucket, Key="tenant/a/k")["Body"].read() == b"v"


def test_local_storage_leaves_no_partial_object_when_a_write_fails(tmp_path, monkeypatch):
    import os

    st = LocalStorage(tmp_path)

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        st.put("a/b", b"x" * 100)
    monkeypatch.undo()
    assert not st.exists("a/b")
    assert list(st.list()) == []


def test_local_key_and_folder_of_the_same_name_conflict_clearly(tmp_path):
    st = LocalStorage(tmp_path)
    st.put("a/b", b"x")
    with pytest.raises(StorageError):
        st.put("a", b"y")
    with pytest.raises(StorageError):
        st.put("a/b/c", b"y")
