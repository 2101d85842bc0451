"""JOSE and signature helpers shared by the postbox adapters (FIT-Connect, BundID/ZBP) and their sandboxes.

* JWE compact, ``alg RSA-OAEP-256`` / ``enc A256GCM``, to a destination's published ``wrapKey`` JWK;
* published JWKs are used only after their ``x5c`` chain verified against a configured root
  (:func:`verified_jwk`): the key matches the leaf certificate, every certificate is issued by the next, is
  valid now, and the chain ends at a trusted root;
* Security Event Tokens: JWS ``PS512``, ``typ secevent+jwt``;
* the BundID author token (RS512 JWT ``{iat, exp: iat+30 min, signer, roles: ["THIRD_PARTY"]}``) and the ZBP
  ``sha512sum`` (base64 RSA-SHA512 signature, PKCS#1 v1.5, over exactly the content string).

jwcrypto holds the keys (it takes FIT-Connect's keys as published) and verifies JWS; JWE both ways and the SET
signature are made with pyca/cryptography directly (jwcrypto's per-token overhead was a large share of the
CPU per delivery), and the tests check them against jwcrypto. Errors are :class:`CryptoError` with a
sentence that says what is wrong; no key material is ever put into a message.
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jws, jwt
from jwcrypto.common import JWException

__all__ = [
    "CryptoError", "JWE_ALG", "JWE_ENC", "SET_ALG", "SET_TYPE", "author_token", "auth_tag", "b64url",
    "b64url_decode", "common_name", "decrypt", "encrypt", "jwk_from_key", "load_certificate", "sign_content",
    "sign_set", "unverified_header", "verified_jwk", "verify_author_token", "verify_chain", "verify_content",
    "verify_set",
]

JWE_ALG, JWE_ENC = "RSA-OAEP-256", "A256GCM"
SET_ALG, SET_TYPE = "PS512", "secevent+jwt"
AUTHOR_TOKEN_ALG = "RS512"
AUTHOR_TOKEN_LIFETIME = 30 * 60
MIN_RSA_BITS = 4096  # FIT-Connect: "n" has at least 683 characters


class CryptoError(ValueError):
    """A key, token or signature did not pass a check; the message says which and why."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def load_certificate(data: bytes | str) -> x509.Certificate:
    """A certificate from PEM, DER or base64 DER (as in ``x5c`` and ``authorCertificate``)."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(raw)
        try:
            return x509.load_der_x509_certificate(raw)
        except ValueError:
            return x509.load_der_x509_certificate(base64.b64decode(raw, validate=True))
    except (ValueError, TypeError) as exc:
        raise CryptoError("not a readable X.509 certificate") from exc


def load_roots(pem: bytes | str | Iterable[x509.Certificate]) -> list[x509.Certificate]:
    if isinstance(pem, (bytes, str)):
        raw = pem.encode() if isinstance(pem, str) else pem
        return x509.load_pem_x509_certificates(raw)
    return list(pem)


# ---- certificate chains and published keys --------------------------------------------------------------
def verify_chain(chain: Sequence[x509.Certificate], roots: Sequence[x509.Certificate],
                 at: _dt.datetime | None = None) -> x509.Certificate:
    """Check that ``chain`` (leaf first) leads to one of ``roots``; returns the leaf."""
    if not chain:
        raise CryptoError("the certificate chain is empty")
    now = at or _dt.datetime.now(_dt.timezone.utc)
    root_der = {r.public_bytes(serialization.Encoding.DER) for r in roots}
    for i, cert in enumerate(chain):
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CryptoError(f"certificate '{common_name(cert)}' is not valid now "
                              f"({cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})")
        if cert.public_bytes(serialization.Encoding.DER) in root_der:
            return chain[0]
        issuers = list(chain[i + 1:i + 2]) or [r for r in roots if r.subject == cert.issuer]
        for issuer in issuers:
            try:
                cert.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            try:
                bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
            except x509.ExtensionNotFound:
                bc = None
            if bc is None or not bc.ca:
                raise CryptoError(f"certificate '{common_name(issuer)}' signs others but is no CA")
            if issuer.public_bytes(serialization.Encoding.DER) in root_der:
                return chain[0]
            break
        else:
            raise CryptoError(f"certificate '{common_name(cert)}' is not issued by a trusted root")
    raise CryptoError("the certificate chain does not end at a trusted root")


def verified_jwk(published: dict[str, Any], roots: Sequence[x509.Certificate], *, use: str,
                 at: _dt.datetime | None = None) -> jwk.JWK:
    """A published FIT-Connect JWK (``use``: ``wrapKey`` or ``verify``) after every check; raises CryptoError."""
    alg = JWE_ALG if use == "wrapKey" else SET_ALG
    kid = published.get("kid", "?")
    if published.get("kty") != "RSA":
        raise CryptoError(f"key {kid} is not an RSA key")
    if published.get("alg") != alg:
        raise CryptoError(f"key {kid} is for {published.get('alg')!r}, not {alg}")
    if use not in (published.get("key_ops") or []):
        raise CryptoError(f"key {kid} may not be used for {use} (key_ops {published.get('key_ops')})")
    if any(p in published for p in ("d", "p", "q", "dp", "dq", "qi")):
        raise CryptoError(f"key {kid} contains private key parts; refusing it")
    x5c = published.get("x5c") or []
    if not x5c:
        raise CryptoError(f"key {kid} has no x5c certificate chain")
    chain = [load_certificate(c) for c in x5c]
    leaf = verify_chain(chain, roots, at)
    try:
        key = jwk.JWK(**published)
    except (JWException, ValueError, TypeError) as exc:
        raise CryptoError(f"key {kid} is not a valid JWK") from exc
    public = key.get_op_key(use)
    leaf_key = leaf.public_key()
    if not isinstance(leaf_key, rsa.RSAPublicKey) or leaf_key.public_numbers() != public.public_numbers():
        raise CryptoError(f"key {kid} does not match its certificate '{common_name(leaf)}'")
    if public.key_size < MIN_RSA_BITS:
        raise CryptoError(f"key {kid} has {public.key_size} bits; FIT-Connect requires {MIN_RSA_BITS}")
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        ok = usage.key_encipherment if use == "wrapKey" else usage.digital_signature
    except x509.ExtensionNotFound:
        ok = True
    if not ok:
        raise CryptoError(f"the certificate of key {kid} does not allow {use}")
    return key


def jwk_from_key(key: rsa.RSAPrivateKey | rsa.RSAPublicKey, *, kid: str, alg: str, key_ops: list[str],
                 x5c: list[str] | None = None) -> jwk.JWK:
    """A JWK for a pyca key with FIT-Connect's parameters."""
    params = jwk.JWK.from_pyca(key).export(as_dict=True, private_key=isinstance(key, rsa.RSAPrivateKey))
    params.update(kid=kid, alg=alg, key_ops=key_ops)
    if x5c:
        params["x5c"] = x5c
    return jwk.JWK(**params)


# ---- JWE --------------------------------------------------------------------------------------------------
_OAEP_SHA256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_PSS_SHA512 = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=hashes.SHA512.digest_size)
_PKCS1 = padding.PKCS1v15()


def encrypt(key: jwk.JWK, plaintext: bytes, *, cty: str | None = None) -> str:
    """JWE compact serialization of ``plaintext`` to ``key`` (RSA-OAEP-256 / A256GCM, the key's kid).

    Made here with pyca/cryptography as RFC 7516 5.1 says (a fresh 256-bit CEK wrapped with RSA-OAEP-256, a
    fresh 96-bit IV, AES-256-GCM with the ASCII of the encoded protected header as additional data) rather
    than with jwcrypto's JWE, which deep-copies its header registry for every token (a quarter of a
    submission's client CPU). The tests check that jwcrypto decrypts what this makes.
    The key's ``key_ops`` are still enforced: :meth:`jwk.JWK.get_op_key` refuses a key without ``wrapKey``.
    """
    public = key.get_op_key("wrapKey")
    if not isinstance(public, rsa.RSAPublicKey):
        raise CryptoError(f"key {key.get('kid')} is not an RSA public key")
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "kid": key.get("kid")}
    if cty:
        header["cty"] = cty
    protected = b64url(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    cek, iv = os.urandom(32), os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    return ".".join((protected, b64url(public.encrypt(cek, _OAEP_SHA256)), b64url(iv), b64url(sealed[:-16]),
                     b64url(sealed[-16:])))


def decrypt(key: jwk.JWK, compact: str) -> tuple[dict[str, Any], bytes]:
    """Header and plaintext of a JWE compact string; only RSA-OAEP-256 / A256GCM are accepted.

    RFC 7516 5.2 with pyca/cryptography, the counterpart of :func:`encrypt` (jwcrypto's JWE costs a deep copy
    of its header registry and more per token: ~0.4 ms, a fifth of the receiving side's unwrap): the protected
    header must name exactly RSA-OAEP-256 / A256GCM and no ``zip`` or ``crit``; the CEK is unwrapped with the
    key (whose ``key_ops`` must allow ``unwrapKey``) and must be 256 bits; IV 96 and tag 128 bits; AES-256-GCM
    checks the tag over the ciphertext and the encoded protected header as additional data. Anything else is a
    CryptoError; the tests check that jwcrypto and this decrypt each other's tokens.
    """
    parts = compact.split(".") if isinstance(compact, str) and compact.isascii() else []
    if len(parts) != 5:
        raise CryptoError("cannot decrypt the JWE (not a compact serialization of five parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        wrapped, iv, ciphertext, tag = (b64url_decode(p) for p in parts[1:])
    except (ValueError, TypeError) as exc:
        raise CryptoError(f"cannot decrypt the JWE ({type(exc).__name__})") from exc
    if not isinstance(header, dict):
        raise CryptoError("cannot decrypt the JWE (its protected header is not a JSON object)")
    if header.get("alg") != JWE_ALG or header.get("enc") != JWE_ENC:
        raise CryptoError(f"JWE uses {header.get('alg')}/{header.get('enc')}, not {JWE_ALG}/{JWE_ENC}")
    if "zip" in header or "crit" in header:
        raise CryptoError("cannot decrypt the JWE (zip and crit are not accepted)")
    try:
        private = key.get_op_key("unwrapKey")
    except (JWException, ValueError, TypeError) as exc:
        raise CryptoError(f"cannot decrypt the JWE ({type(exc).__name__})") from exc
    if not isinstance(private, rsa.RSAPrivateKey):
        raise CryptoError("cannot decrypt the JWE (the key is not an RSA private key)")
    if len(iv) != 12 or len(tag) != 16:
        raise CryptoError("cannot decrypt the JWE (A256GCM needs a 96-bit IV and a 128-bit tag)")
    try:
        cek = private.decrypt(wrapped, _OAEP_SHA256)
    except ValueError as exc:
        raise CryptoError("cannot decrypt the JWE (the content key does not unwrap)") from exc
    if len(cek) != 32:
        raise CryptoError("cannot decrypt the JWE (the content key is not 256 bits)")
    try:
        plaintext = AESGCM(cek).decrypt(iv, ciphertext + tag, parts[0].encode("ascii"))
    except InvalidTag as exc:
        raise CryptoError("cannot decrypt the JWE (InvalidTag)") from exc
    return header, plaintext


def auth_tag(compact: str) -> str:
    """The GCM authentication tag of a JWE compact string (its fifth part), as named in accept-submission."""
    parts = compact.split(".")
    if len(parts) != 5:
        raise CryptoError("not a JWE compact serialization (five parts)")
    return parts[4]


# ---- JWS: Security Event Tokens ---------------------------------------------------------------------------
def unverified_header(compact: str) -> dict[str, Any]:
    try:
        header = json.loads(b64url_decode(compact.split(".", 1)[0]))
    except (ValueError, IndexError) as exc:
        raise CryptoError("not a JWS compact serialization") from exc
    if not isinstance(header, dict):
        raise CryptoError("not a JWS compact serialization")
    return header


def sign_set(key: jwk.JWK, claims: dict[str, Any]) -> str:
    """A Security Event Token: JWS PS512 with ``typ secevent+jwt`` and the key's kid.

    RFC 7515 compact serialization made with pyca/cryptography (RSASSA-PSS, SHA-512, MGF1 SHA-512, 64-byte
    salt, as RFC 7518 3.5 and jwcrypto's PS512): jwcrypto's JWS deep-copies its header registry per token. The
    key's ``key_ops`` must allow ``sign`` (:meth:`jwk.JWK.get_op_key`) and its ``alg``, if any, be PS512;
    jwcrypto verifies what this signs (:func:`verify_set`).
    """
    if key.get("alg") not in (None, SET_ALG):
        raise CryptoError(f"key {key.get('kid')} is for {key.get('alg')!r}, not {SET_ALG}")
    private = key.get_op_key("sign")
    if not isinstance(private, rsa.RSAPrivateKey):
        raise CryptoError(f"key {key.get('kid')} is not an RSA private key")
    protected = b64url(json.dumps({"typ": SET_TYPE, "kid": key.get("kid"), "alg": SET_ALG}).encode("utf-8"))
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    signing_input = f"{protected}.{payload}"
    return f"{signing_input}.{b64url(private.sign(signing_input.encode('ascii'), _PSS_SHA512, hashes.SHA512()))}"


def verify_set(key: jwk.JWK, compact: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a SET whose PS512 signature verifies with ``key``; raises CryptoError."""
    header = unverified_header(compact)
    if header.get("alg") != SET_ALG:
        raise CryptoError(f"event token signed with {header.get('alg')!r}, not {SET_ALG}")
    if header.get("typ") != SET_TYPE:
        raise CryptoError(f"event token of type {header.get('typ')!r}, not {SET_TYPE}")
    token = jws.JWS()
    try:
        token.deserialize(compact)
        token.allowed_algs = [SET_ALG]
        token.verify(key, alg=SET_ALG)
    except (JWException, ValueError, TypeError) as exc:
        raise CryptoError("the event token's signature does not verify") from exc
    try:
        claims = json.loads(token.payload)
    except ValueError as exc:
        raise CryptoError("the event token's claims are not JSON") from exc
    if not isinstance(claims, dict):
        raise CryptoError("the event token's claims are not a JSON object")
    return header, claims


# ---- BundID author token and ZBP content signature ----------------------------------------------------
def author_token(key: rsa.RSAPrivateKey, cert: x509.Certificate, *, now: float) -> str:
    """The RS512 author JWT ``{iat, exp: iat+30 min, signer: CN, roles: ["THIRD_PARTY"]}``."""
    token = jwt.JWT(header={"alg": AUTHOR_TOKEN_ALG, "typ": "JWT"},
                    claims={"iat": int(now), "exp": int(now) + AUTHOR_TOKEN_LIFETIME, "signer": common_name(cert),
                            "roles": ["THIRD_PARTY"]})
    token.make_signed_token(jwk.JWK.from_pyca(key))
    return token.serialize()


def verify_author_token(token: str, cert: x509.Certificate, *, now: float) -> dict[str, Any]:
    """The claims of an author token signed by ``cert``'s key, current, naming ``cert``'s CN; else CryptoError."""
    header = unverified_header(token)
    if header.get("alg") != AUTHOR_TOKEN_ALG:
        raise CryptoError(f"author token signed with {header.get('alg')!r}, not {AUTHOR_TOKEN_ALG}")
    if "crit" in header:
        raise CryptoError("the author token names critical header parameters; none are understood")
    # RFC 7515 5.2 with pyca/cryptography (jwcrypto's JWT converted the certificate's key to a JWK and back and
    # deep-copied its header registry for every token): RSASSA-PKCS1-v1_5 with SHA-512 over the signing input
    parts = token.split(".")
    public_key = cert.public_key()
    try:
        if len(parts) != 3 or not token.isascii() or not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError("not a compact JWS with an RSA key")
        public_key.verify(b64url_decode(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"), _PKCS1,
                          hashes.SHA512())
        claims = json.loads(b64url_decode(parts[1]))
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CryptoError("the author token's signature does not verify with the author certificate") from exc
    if not isinstance(claims, dict):
        raise CryptoError("the author token's claims are not a JSON object")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        raise CryptoError("the author token has no iat/exp")
    if exp - iat > AUTHOR_TOKEN_LIFETIME or not iat - 60 <= now <= exp:
        raise CryptoError("the author token has expired or is not yet valid")
    if claims.get("signer") != common_name(cert):
        raise CryptoError("the author token's signer is not the certificate's common name")
    if "THIRD_PARTY" not in (claims.get("roles") or []):
        raise CryptoError("the author token lacks the role THIRD_PARTY")
    return claims


def sign_content(key: rsa.RSAPrivateKey, content: str) -> str:
    """``sha512sum`` of the ZBP: base64 RSA-SHA512 signature over exactly ``content`` (UTF-8)."""
    return base64.b64encode(key.sign(content.encode("utf-8"), _PKCS1, hashes.SHA512())).decode("ascii")


def verify_content(public_key: rsa.RSAPublicKey, content: str, signature_b64: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), content.encode("utf-8"), _PKCS1,
                          hashes.SHA512())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
