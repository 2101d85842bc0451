"""Rule: a FIT-Connect failure that may pass (5xx, 429, timeouts, a lost connection, an expired token) is a
TemporaryFailure - try the same channel again; a refusal (4xx, wrong credentials, untrusted TLS) is a
PermanentFailure - take the recipient's next channel. An expired access token is renewed on the fly."""
from __future__ import annotations

import pytest

from mailbox_connectors.base import PermanentFailure, TemporaryFailure
from mailbox_connectors.bundid import BundIdBridgeConnector
from mailbox_connectors.sandboxes.pki import TestCA

from .conftest import fit_settings, make_delivery

pytestmark = pytest.mark.xdist_group("delivery_postbox_fit_failures")


def _connector(fit, author, bundid_settings, **overrides) -> BundIdBridgeConnector:
    return BundIdBridgeConnector(fit_settings(fit, **overrides), bundid_settings, author,
                                 bridge_destination_id=fit.bridge_destination_id)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_is_a_temporary_failure(bridge, fit, zbp, status):
    fit.faults.fail(status, path="/v1/submissions", method="POST")
    with pytest.raises(TemporaryFailure) as caught:
        bridge.send(make_delivery(zbp.add_mailbox()))
    assert caught.value.code == f"HTTP {status}" and "später erneut versuchen" in caught.value.reason


def test_throttling_is_a_temporary_failure_that_says_when_to_retry(bridge, fit, zbp):
    fit.faults.throttle(retry_after=7, path="/v1/submissions")
    with pytest.raises(TemporaryFailure) as caught:
        bridge.send(make_delivery(zbp.add_mailbox()))
    assert caught.value.code == "HTTP 429" and caught.value.retry_after == 7
    assert "in 7 s erneut versuchen" in caught.value.reason


def test_a_stalled_service_is_a_temporary_failure_after_the_timeout(fit, author, bundid_settings, zbp):
    connector = _connector(fit, author, bundid_settings, timeout=0.5)
    connector.client.encryption_key(fit.bridge_destination_id)  # the stall hits the submission, not the key
    fit.faults.stall(5, path="/v1/submissions", method="PUT")
    with pytest.raises(TemporaryFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert caught.value.code == "timeout" and "nicht innerhalb von 0.5 s geantwortet" in caught.value.reason


def test_a_dropped_connection_is_a_temporary_failure(bridge, fit, zbp):
    fit.faults.drop(path="/v1/submissions")
    with pytest.raises(TemporaryFailure) as caught:
        bridge.send(make_delivery(zbp.add_mailbox()))
    assert caught.value.code == "connection"


def test_a_temporary_failure_then_a_retry_delivers_once(bridge, fit, zbp):
    delivery = make_delivery(zbp.add_mailbox())
    before = set(fit.submissions)
    fit.faults.fail(503, path="/v1/submissions/", method="PUT")  # the attachment upload fails once
    with pytest.raises(TemporaryFailure):
        bridge.send(delivery)
    receipt = bridge.send(delivery)
    fit.wait_processed(receipt.channel_message_id)
    new = [fit.submissions[s] for s in set(fit.submissions) - before]
    assert len(new) == 2  # the broken attempt stays unsubmitted (the service deletes it), the retry went out
    assert [s.submission_id for s in new if s.state != "created"] == [receipt.channel_message_id]
    assert fit.received(receipt.channel_message_id).state == "accepted"


def test_an_expired_access_token_is_renewed_and_the_delivery_goes_through(bridge, fit, zbp):
    bridge.send(make_delivery(zbp.add_mailbox()))  # holds a token now
    issued = fit.tokens_issued
    fit.expire_tokens()
    receipt = bridge.send(make_delivery(zbp.add_mailbox()))
    assert fit.tokens_issued == issued + 1
    expired = [r for r in fit.requests if r.status == 401]
    assert expired and expired[-1].path == "/v1/submissions"
    assert receipt.channel_message_id in fit.submissions


def test_a_token_that_stays_expired_is_a_temporary_failure(fit, author, bundid_settings, zbp):
    fit.token_ttl = 0  # every token the sandbox issues is expired at once
    connector = _connector(fit, author, bundid_settings)
    try:
        with pytest.raises(TemporaryFailure) as caught:
            connector.send(make_delivery(zbp.add_mailbox()))
    finally:
        fit.token_ttl = 3600
        connector.close()
    assert caught.value.code == "HTTP 401"


def test_the_token_endpoint_unavailable_is_a_temporary_failure(fit, author, bundid_settings, zbp):
    connector = _connector(fit, author, bundid_settings)
    fit.faults.fail(503, path="/token")
    with pytest.raises(TemporaryFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert caught.value.code == "HTTP 503"


def test_wrong_client_credentials_are_a_permanent_failure(fit, author, bundid_settings, zbp):
    connector = _connector(fit, author, bundid_settings, client_secret="not-the-secret")
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert "invalid_client" in caught.value.reason and "Client-ID, Secret" in caught.value.reason


def test_the_token_endpoint_takes_the_secret_only_in_the_form_body(fit):
    import httpx

    with httpx.Client(verify=fit.ca.client_context()) as http:
        basic = http.post(fit.token_url, data={"grant_type": "client_credentials"},
                          auth=(fit.client_id, fit.client_secret))
        post = http.post(fit.token_url, data={"grant_type": "client_credentials", "client_id": fit.client_id,
                                              "client_secret": fit.client_secret})
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    assert post.status_code == 200 and post.json()["token_type"] == "Bearer"


def test_a_refused_submission_is_a_permanent_failure_with_the_reason(bridge, fit, zbp):
    fit.faults.fail(422, path="/v1/submissions", method="POST")
    with pytest.raises(PermanentFailure) as caught:
        bridge.send(make_delivery(zbp.add_mailbox()))
    assert caught.value.code == "HTTP 422"


def test_an_unknown_destination_is_a_permanent_failure(fit, author, bundid_settings, zbp):
    import uuid

    connector = BundIdBridgeConnector(fit_settings(fit), bundid_settings, author,
                                      bridge_destination_id=str(uuid.uuid4()))
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert caught.value.code == "HTTP 404"


def test_tls_is_verified_a_server_certificate_from_another_ca_is_refused(fit, author, bundid_settings, zbp):
    stranger = TestCA("not the sandbox's CA")
    connector = _connector(fit, author, bundid_settings, tls_ca=stranger.root_path)
    with pytest.raises(PermanentFailure) as caught:
        connector.send(make_delivery(zbp.add_mailbox()))
    connector.close()
    assert caught.value.code == "TLS" and "nicht vertraut" in caught.value.reason
