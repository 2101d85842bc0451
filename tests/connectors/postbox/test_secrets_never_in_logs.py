"""Rule: client secrets, access tokens, author tokens, API tokens and private keys never appear in logs, error
messages, receipts or event evidence - not even when things go wrong."""
from __future__ import annotations

import logging

import pytest

from mailbox_connectors.base import DeliveryError
from mailbox_connectors.bundid import BundIdSettings, ZbpDirectConnector, ZbpSettings
from mailbox_connectors.elster import ElsterConnector, ElsterSettings

from .conftest import make_delivery, wait_for

pytestmark = pytest.mark.xdist_group("delivery_postbox_secrets")


def _key_lines(pem: bytes) -> list[str]:
    lines = pem.decode().splitlines()[1:-1]
    return [line for line in lines[2:-2]][:5]  # a few full base64 lines from inside the key


def test_secrets_never_reach_logs_errors_or_evidence(caplog, fit, zbp, elster, bridge, author, tmp_path):
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    # FIT-Connect bridge: token, renewal after expiry, a temporary and a permanent failure, events
    receipt = bridge.send(make_delivery(zbp.add_mailbox()))
    fit.expire_tokens()
    outputs.append(bridge.send(make_delivery(zbp.add_mailbox())).evidence.decode())
    fit.faults.fail(503, path="/v1/submissions")
    fit.faults.fail(401, path="/token")
    for _ in range(2):
        with pytest.raises(DeliveryError) as caught:
            bridge.send(make_delivery(zbp.add_mailbox()))
        outputs += [str(caught.value), caught.value.evidence.decode()]
        bridge.client._token = None  # the second round fetches a token (and is refused)
    events = wait_for(bridge.collect_events, lambda ev: any(e.delivery_id == receipt.delivery_id for e in ev))
    outputs += [receipt.evidence.decode()] + [e.reason for e in events]
    author_token = bridge._author.token()
    outputs += [repr(bridge.client.settings), repr(author)]
    # ZBP direct: mTLS + Bearer author token, a refusal
    cert, key = zbp.issue_client("Stadt Musterstadt Stadtkasse").write(tmp_path, "bpki")
    direct = ZbpDirectConnector(ZbpSettings(zbp.base_url, cert, key, zbp.ca.root_path),
                                BundIdSettings(sender="Stadt Musterstadt"))
    outputs.append(direct.send(make_delivery(zbp.add_mailbox())).evidence.decode())
    zbp.faults.fail(400)
    with pytest.raises(DeliveryError) as caught:
        direct.send(make_delivery(zbp.add_mailbox()))
    outputs += [str(caught.value), caught.value.evidence.decode(), repr(direct.zbp)]
    zbp_token = direct._author.token()
    direct.close()
    # ELSTER: local API token, a refusal
    settings = ElsterSettings(elster.base_url, api_token=elster.api_token, tls_ca=elster.ca.root_path)
    conn = ElsterConnector(settings)
    outputs.append(conn.send(make_delivery(elster.add_account())).evidence.decode())
    with pytest.raises(DeliveryError) as caught:
        ElsterConnector(ElsterSettings(elster.base_url, api_token="wrong-" + elster.api_token,
                                       tls_ca=elster.ca.root_path)).send(make_delivery(elster.add_account()))
    outputs += [str(caught.value), repr(settings)]
    conn.close()

    secrets = [fit.client_secret, *fit._tokens, author_token, zbp_token, elster.api_token,
               *_key_lines(author.key_pem), *_key_lines(key.read_bytes())]
    assert len(fit._tokens) >= 2
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert "FIT-Connect access token expired" in logged  # the renewal was logged, without the token
    for secret in secrets:
        assert secret not in logged
        for text in outputs:
            assert secret not in text
