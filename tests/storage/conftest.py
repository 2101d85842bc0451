"""Storage fixtures (this folder is a package, so this conftest does not shadow tests/conftest.py, which
other tests import as ``conftest``): every storage test runs on a local folder and on a real S3 server on loopback.

The S3 server is moto's ``ThreadedMotoServer`` (an S3 implementation speaking HTTP to boto3, not a mock of
boto3), started once per test process on a port the OS picks and stopped at the end; each test gets its own bucket.
"""
from __future__ import annotations

import logging
import uuid

import pytest

from erechnung.storage import LocalStorage

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "eu-central-1"}


@pytest.fixture(scope="session")
def s3_endpoint():
    """``http://127.0.0.1:<port>`` of a moto S3 server running for this test process."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the test output
    from moto.server import ThreadedMotoServer  # a test dependency (pyproject [test]); never skipped

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # port 0: a free one
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_client(s3_endpoint):
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)


def make_bucket(client, *, object_lock: bool = False) -> str:
    name = f"t-{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": CREDENTIALS["region_name"]},
                         ObjectLockEnabledForBucket=object_lock)
    return name


def s3_storage(s3_endpoint, client, *, object_lock_mode: str | None = None, prefix: str = "pipeline"):
    from erechnung.storage.s3 import S3Storage

    bucket = make_bucket(client, object_lock=object_lock_mode is not None)
    return S3Storage(bucket, prefix, endpoint_url=s3_endpoint, object_lock_mode=object_lock_mode, **CREDENTIALS)


@pytest.fixture
def new_bucket(s3_client):
    """``new_bucket(object_lock=False)``: the name of a new, empty bucket."""
    return lambda object_lock=False: make_bucket(s3_client, object_lock=object_lock)


@pytest.fixture
def new_s3_storage(s3_endpoint, s3_client):
    """``new_s3_storage(object_lock_mode=None)``: an S3Storage on a new bucket (with Object Lock if a mode is
    given)."""
    return lambda object_lock_mode=None: s3_storage(s3_endpoint, s3_client, object_lock_mode=object_lock_mode)


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    """A fresh, empty storage: a folder, or a prefix in a new bucket on the loopback S3 server."""
    if request.param == "local":
        return LocalStorage(tmp_path / "storage")
    endpoint = request.getfixturevalue("s3_endpoint")
    return s3_storage(endpoint, request.getfixturevalue("s3_client"))


@pytest.fixture
def locked_s3(s3_endpoint, s3_client):
    """An S3Storage on a bucket with Object Lock enabled, writing retained objects in COMPLIANCE mode."""
    return s3_storage(s3_endpoint, s3_client, object_lock_mode="COMPLIANCE")
