"""Rule: the FIT-Connect sandbox takes only requests that follow the staged Submission API 1.1.3; anything else
gets 400 (415 for a content type, 401 without a token) with the reason - so our client is held to the spec."""
from __future__ import annotations

import json
import uuid
import os
from pathlib import Path

import httpx
import pytest

from mailbox_connectors.sandboxes.openapi_check import SPEC_DIR, NotConforming, submission_api

pytestmark = pytest.mark.xdist_group("delivery_postbox_openapi")

U = "879ee109-a690-4db8-ab32-424284184d7d"
AUTH = {"Authorization": "Bearer t0ken"}
JSON = {**AUTH, "Content-Type": "application/json"}
JOSE = {**AUTH, "Content-Type": "application/jose"}
CREATE = {"destinationId": U, "announcedAttachments": [U], "serviceType": {"name": "x", "identifier": "urn:de:x"}}


@pytest.mark.parametrize(("method", "path", "query", "headers", "body", "status", "reason"), [
    ("POST", "/v1/submissions", "", JSON, {k: v for k, v in CREATE.items() if k != "serviceType"}, 400,
     "'serviceType' is a required property"),
    ("POST", "/v1/submissions", "", JSON, {**CREATE, "destinationId": "abc"}, 400, "is not a 'uuid'"),
    ("POST", "/v1/submissions", "", JSON, {**CREATE, "serviceType": {"name": "x", "identifier": "not a urn"}}, 400,
     "does not match"),
    ("POST", "/v1/submissions", "", {"Content-Type": "application/json"}, CREATE, 401, "Authorization: Bearer"),
    ("POST", "/v1/submissions", "", {**AUTH, "Content-Type": "text/plain"}, CREATE, 400, "content type text/plain"),
    ("PUT", f"/v1/submissions/{U}/attachments/{U}", "", JSON, "a.b.c.d.e", 415, "only application/jose"),
    ("PUT", f"/v1/submissions/{U}/attachments/{U}", "", JOSE, "not a jwe!", 400, "does not match"),
    ("PUT", f"/v1/submissions/{U}", "", JSON, {"encryptedData": "a.b.c.d.e"}, 400, "'encryptedMetadata' is a required"),
    ("GET", f"/v1/cases/{U}/events", "limit=501", AUTH, None, 400, "greater than the maximum of 500"),
    ("GET", f"/v1/cases/{U}/events", "since=yesterday", AUTH, None, 400, "query parameter(s) since not defined"),
    ("GET", "/v1/cases/not-a-uuid/events", "", AUTH, None, 400, "path parameter caseId"),
    ("DELETE", "/v1/submissions", "", AUTH, None, 400, "method not in the API (only GET, POST)"),
    ("GET", "/v2/submissions", "", AUTH, None, 400, "no such path in the API"),
    ("POST", "/v1/submissions", "", JSON, None, 400, "a request body is required"),
])
def test_the_checker_names_what_breaks_the_api(method, path, query, headers, body, status, reason):
    raw = b"" if body is None else (json.dumps(body) if not isinstance(body, str) else body).encode()
    with pytest.raises(NotConforming) as caught:
        submission_api().check(method, path, query=query, headers=headers, body=raw)
    assert caught.value.status == status and reason in caught.value.reason


@pytest.mark.parametrize(("method", "path", "query", "headers", "body", "operation"), [
    ("POST", "/v1/submissions", "", JSON, json.dumps(CREATE), "create-submission"),
    ("PUT", f"/v1/submissions/{U}/attachments/{U}", "", JOSE, "eyJh.x.y.z.w", "add-submission-attachment"),
    ("PUT", f"/v1/submissions/{U}", "", {**JSON, "Content-Type": "application/json; charset=utf-8"},
     json.dumps({"encryptedMetadata": "a.b.c.d.e"}), "submit-submission"),
    ("GET", f"/v1/cases/{U}/events", "limit=500&offset=0", AUTH, "", "get-case-events"),
    ("GET", f"/v1/destinations/{U}", "", AUTH, "", "get-destination-info"),
    ("GET", f"/v1/destinations/{U}/keys/{U}", "", {}, "", "get-destination-key"),
    ("GET", "/.well-known/jwks.json", "", {}, "", "get-jwks.json"),
])
def test_the_checker_lets_conforming_requests_through(method, path, query, headers, body, operation):
    op = submission_api().check(method, path, query=query, headers=headers, body=body.encode())
    assert op.operation_id == operation


def test_a_nonconforming_request_gets_400_with_the_reason_over_http(fit):
    with httpx.Client(verify=fit.ca.client_context(), base_url=fit.base_url) as http:
        token = http.post("/token", data={"grant_type": "client_credentials", "client_id": fit.client_id,
                                          "client_secret": fit.client_secret}).json()["access_token"]
        bad = http.post("/v1/submissions", headers={"Authorization": f"Bearer {token}"},
                        json={"destinationId": fit.bridge_destination_id, "announcedAttachments": []})
        wrong_type = http.put(f"/v1/submissions/{U}/attachments/{U}", content=b"a.b.c.d.e",
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        no_token = http.get(f"/v1/cases/{U}/events")
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    assert "'serviceType' is a required property" in bad.json()["detail"]
    assert wrong_type.status_code == 415
    assert no_token.status_code == 401


def test_the_sandbox_answers_in_the_shapes_of_the_api(fit, bridge, zbp):
    from .conftest import make_delivery

    receipt = bridge.send(make_delivery(zbp.add_mailbox()))
    checker = submission_api()
    with httpx.Client(verify=fit.ca.client_context(), base_url=fit.base_url) as http:
        auth = {"Authorization": "Bearer " + bridge.client.access_token()}
        destination = http.get(f"/v1/destinations/{fit.bridge_destination_id}", headers=auth).json()
        key = http.get(f"/v1/destinations/{fit.bridge_destination_id}/keys/{destination['encryptionKid']}").json()
        jwks = http.get("/.well-known/jwks.json").json()
        case_id = bridge.journal.get(receipt.delivery_id)["case_id"]
        events = http.get(f"/v1/cases/{case_id}/events", headers=auth).json()
    checker.validate(checker.schema("PublicDestination"), destination, "destination")
    checker.validate(checker.schema("JWK"), key, "key")
    checker.validate(checker.schema("JWKS"), jwks, "jwks")
    checker.validate(checker.schema("EventLog"), events, "event log")
    assert key["key_ops"] == ["wrapKey"] and key["alg"] == "RSA-OAEP-256" and len(key["x5c"]) == 2
    assert len(key["n"]) >= 683  # RSA 4096


def test_the_spec_is_read_from_the_staged_folder_not_a_copy():
    assert (SPEC_DIR / "fitconnect-submission-api-1.1.3.yaml").is_file(), SPEC_DIR
    assert SPEC_DIR.parts[-3:] == ("shared", "specs", "fit-connect") or "ERECHNUNG_FITCONNECT_SPEC_DIR" in os.environ


def test_every_operation_our_client_uses_is_in_the_spec():
    used = {("POST", "/v1/submissions"), ("PUT", "/v1/submissions/{submissionId}/attachments/{attachmentId}"),
            ("PUT", "/v1/submissions/{submissionId}"), ("GET", "/v1/cases/{caseId}/events"),
            ("GET", "/v1/destinations/{destinationId}"), ("GET", "/v1/destinations/{destinationId}/keys/{keyId}"),
            ("GET", "/.well-known/jwks.json")}
    paths = submission_api().spec["paths"]
    assert all(method.lower() in paths[path] for method, path in used)
    assert uuid.UUID(U)
