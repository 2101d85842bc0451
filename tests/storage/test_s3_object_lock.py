"""S3-only guarantees, against moto's S3 server on loopback.

moto emulates Object Lock only partly (see shared/docs/pdf-and-services.md). Each test names the moto
behaviour it relies on; none relies on the two that are wrong or missing (GetObjectRetention answers 500,
shortening a COMPLIANCE retention is accepted), which is why the adapter reads retention from HeadObject.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from erechnung.storage import RetainedError
from erechnung.storage.base import retention_date

FUTURE = datetime.now(timezone.utc) + timedelta(days=30)


def test_s3_object_lock_refuses_deleting_a_retained_version(locked_s3):
    """moto behaviour checked: DeleteObject with the VersionId of a COMPLIANCE-locked version is refused
    (AccessDenied), as on AWS. This is what makes the archive tamper-proof on S3."""
    st = locked_s3
    st.put("archive/doc", b"invoice", retention_until=FUTURE)
    full = st.prefix + "archive/doc"
    head = st.client.head_object(Bucket=st.bucket, Key=full)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as exc:
        st.client.delete_object(Bucket=st.bucket, Key=full, VersionId=head["VersionId"])
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert st.get("archive/doc") == b"invoice"


def test_adapter_refuses_the_delete_marker_that_would_hide_a_retained_object(locked_s3):
    """moto behaviour checked: HeadObject returns ObjectLockRetainUntilDate (read instead of the broken
    GetObjectRetention). Without the adapter's refusal a plain DELETE on a versioned bucket succeeds with a
    delete marker and the retained document disappears from every listing."""
    st = locked_s3
    st.put("archive/doc", b"invoice", retention_until=FUTURE)
    head = st.client.head_object(Bucket=st.bucket, Key=st.prefix + "archive/doc")
    assert head["ObjectLockRetainUntilDate"] == retention_date(FUTURE)
    assert st.retention("archive/doc") == retention_date(FUTURE)
    with pytest.raises(RetainedError):
        st.delete("archive/doc")
    assert st.exists("archive/doc")
    assert list(st.list("archive/")) == ["archive/doc"]


def test_s3_governance_retention_yields_only_to_an_explicit_bypass(new_s3_storage):
    """moto behaviour checked: a GOVERNANCE-locked version is refused to a plain versioned delete and deleted
    with BypassGovernanceRetention (the administrator's way out that COMPLIANCE does not have)."""
    st = new_s3_storage(object_lock_mode="GOVERNANCE")
    st.put("archive/doc", b"notice", retention_until=FUTURE)
    full = st.prefix + "archive/doc"
    version = st.client.head_object(Bucket=st.bucket, Key=full)["VersionId"]
    with pytest.raises(ClientError):
        st.client.delete_object(Bucket=st.bucket, Key=full, VersionId=version)
    st.client.delete_object(Bucket=st.bucket, Key=full, VersionId=version, BypassGovernanceRetention=True)
    assert not st.exists("archive/doc")


def test_retention_without_object_lock_is_still_enforced_by_the_adapter(storage):
    """On a bucket without Object Lock the date travels as user metadata and the adapter refuses deletes
    (advisory: someone with bucket rights can still delete; use Object Lock for the real guarantee)."""
    storage.put("archive/doc", b"x", retention_until=FUTURE)
    with pytest.raises(RetainedError):
        storage.delete("archive/doc")


@pytest.fixture
def s3(new_s3_storage):
    return new_s3_storage()


def test_s3_server_honours_conditional_writes(s3):
    """moto behaviour checked: PutObject with If-None-Match: * on an existing key answers 412. if_absent and
    claim rely on it; the probe is how an operator checks another S3-compatible server."""
    assert s3.probe_conditional_writes() is True


def test_s3_claim_keeps_a_new_batch_dropped_under_the_same_name_meanwhile(s3):
    """moto behaviour checked: DeleteObject with If-Match of an older ETag answers 412. A claim removes its
    source only if it is still the object it copied."""
    s3.put("inbox/b.csv", b"first drop")
    original_put = s3._put_object

    def put_then_new_drop(key, data, **kw):
        ok = original_put(key, data, **kw)
        if key.startswith("claimed/"):
            s3.client.put_object(Bucket=s3.bucket, Key=s3.prefix + "inbox/b.csv", Body=b"second drop")
        return ok

    s3._put_object = put_then_new_drop
    assert s3.claim("inbox/b.csv", "claimed/inbox/b.csv") is True
    assert s3.get("claimed/inbox/b.csv") == b"first drop"
    assert s3.get("inbox/b.csv") == b"second drop"


def test_s3_listing_skips_objects_whose_names_are_not_keys(s3):
    s3.client.put_object(Bucket=s3.bucket, Key=s3.prefix + "inbox/", Body=b"")  # a console "folder"
    s3.client.put_object(Bucket=s3.bucket, Key=s3.prefix + "inbox/.DS_Store", Body=b"")
    s3.put("inbox/a.csv", b"x")
    assert list(s3.list("inbox/")) == ["inbox/a.csv"]
