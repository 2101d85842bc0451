"""The JOSE made with pyca/cryptography in ``mailbox_connectors.crypto`` (JWE both ways, the SET signature) is
what an independent implementation (jwcrypto) makes and reads, and refuses what it must refuse."""
from __future__ import annotations

import json

import pytest
from jwcrypto import jwe, jws

from mailbox_connectors import crypto
from mailbox_connectors.sandboxes.pki import rsa_key

pytestmark = pytest.mark.xdist_group("delivery_postbox_jose")


@pytest.fixture(scope="module")
def keys():
    key = rsa_key("test:jose-interop", 4096)
    private = crypto.jwk_from_key(key, kid="enc-1", alg=crypto.JWE_ALG, key_ops=["unwrapKey"])
    public = crypto.jwk_from_key(key.public_key(), kid="enc-1", alg=crypto.JWE_ALG, key_ops=["wrapKey"])
    signer = crypto.jwk_from_key(key, kid="sig-1", alg=crypto.SET_ALG, key_ops=["sign"])
    verifier = crypto.jwk_from_key(key.public_key(), kid="sig-1", alg=crypto.SET_ALG, key_ops=["verify"])
    return private, public, signer, verifier


def test_jwcrypto_decrypts_what_encrypt_makes(keys):
    private, public, _, _ = keys
    token = jwe.JWE(algs=[crypto.JWE_ALG, crypto.JWE_ENC])
    token.deserialize(crypto.encrypt(public, b"%PDF-1.7 notice", cty="application/pdf"), key=private)
    assert token.payload == b"%PDF-1.7 notice"
    assert json.loads(token.objects["protected"])["kid"] == "enc-1"


def test_decrypt_reads_what_jwcrypto_makes(keys):
    private, public, _, _ = keys
    token = jwe.JWE(b'{"a": 1}', protected=json.dumps({"alg": crypto.JWE_ALG, "enc": crypto.JWE_ENC,
                                                        "kid": "enc-1"}))
    token.add_recipient(public)
    header, plain = crypto.decrypt(private, token.serialize(compact=True))
    assert plain == b'{"a": 1}' and header["kid"] == "enc-1"


def test_decrypt_refuses_tampering_other_algorithms_and_the_wrong_key(keys):
    private, public, _, _ = keys
    compact = crypto.encrypt(public, b"content")
    head, wrapped, iv, ciphertext, tag = compact.split(".")
    flipped = crypto.b64url(bytes([crypto.b64url_decode(ciphertext)[0] ^ 1]) + crypto.b64url_decode(ciphertext)[1:])
    for bad in (".".join([head, wrapped, iv, flipped, tag]),  # the tag no longer matches
                ".".join([crypto.b64url(json.dumps({"alg": crypto.JWE_ALG, "enc": crypto.JWE_ENC,
                                                    "kid": "other"}).encode()), wrapped, iv, ciphertext, tag]),
                ".".join([crypto.b64url(json.dumps({"alg": "RSA1_5", "enc": crypto.JWE_ENC}).encode()), wrapped, iv,
                          ciphertext, tag]),
                ".".join([crypto.b64url(json.dumps({"alg": crypto.JWE_ALG, "enc": crypto.JWE_ENC,
                                                    "zip": "DEF"}).encode()), wrapped, iv, ciphertext, tag]),
                ".".join([head, wrapped, crypto.b64url(b"\0" * 8), ciphertext, tag]),
                "a.b.c", compact + "é"):
        with pytest.raises(crypto.CryptoError):
            crypto.decrypt(private, bad)
    other = crypto.jwk_from_key(rsa_key("test:jose-other", 4096), kid="enc-1", alg=crypto.JWE_ALG,
                                key_ops=["unwrapKey"])
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(other, compact)
    with pytest.raises(crypto.CryptoError):  # a key whose key_ops do not allow unwrapKey
        crypto.decrypt(keys[2], compact)


def test_jwcrypto_verifies_the_sets_sign_set_makes(keys):
    _, _, signer, verifier = keys
    compact = crypto.sign_set(signer, {"iss": "x", "events": {"e": {}}})
    token = jws.JWS()
    token.deserialize(compact)
    token.verify(verifier, alg=crypto.SET_ALG)
    assert json.loads(token.payload) == {"iss": "x", "events": {"e": {}}}
    header, _ = crypto.verify_set(verifier, compact)
    assert header == {"typ": crypto.SET_TYPE, "kid": "sig-1", "alg": crypto.SET_ALG}
    with pytest.raises(crypto.CryptoError):  # a key for another algorithm
        crypto.sign_set(keys[0], {"iss": "x"})


def test_the_author_token_jwcrypto_signs_verifies_and_a_forged_one_does_not(tmp_path):
    import time

    from mailbox_connectors.sandboxes.pki import TestCA

    ca = TestCA("jose interop")
    author, other = ca.issue_client("Stadt Musterstadt Kasse"), ca.issue_client("Jemand anders")
    now = time.time()
    token = crypto.author_token(author.key, author.cert, now=now)  # jwcrypto's JWT, RS512
    assert crypto.verify_author_token(token, author.cert, now=now)["signer"] == "Stadt Musterstadt Kasse"
    head, body, signature = token.split(".")
    forged_claims = json.loads(crypto.b64url_decode(body)) | {"roles": ["THIRD_PARTY", "ADMIN"]}
    for bad in (f"{head}.{crypto.b64url(json.dumps(forged_claims).encode())}.{signature}",  # claims changed
                crypto.author_token(other.key, author.cert, now=now),  # signed by another key
                f"{head}.{body}", token + "é"):
        with pytest.raises(crypto.CryptoError):
            crypto.verify_author_token(bad, author.cert, now=now)
    with pytest.raises(crypto.CryptoError):  # expired
        crypto.verify_author_token(token, author.cert, now=now + crypto.AUTHOR_TOKEN_LIFETIME + 5)
