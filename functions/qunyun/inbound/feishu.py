"""Feishu's callbacks: the Encrypt Key's AES-256-CBC (key = SHA-256 of the Encrypt Key, IV = the first 16 bytes
of the data), `X-Lark-Signature` (plain SHA-256 hex of timestamp + nonce + Encrypt Key, then the raw body) and
the verification token in the decrypted event (`header.token`, or `token` in `url_verification`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from qunyun.inbound.refusal import CallbackRefused


def _cipher(encrypt_key: str, iv: bytes) -> Cipher:
    return Cipher(algorithms.AES(hashlib.sha256(encrypt_key.encode()).digest()), modes.CBC(iv))


def decrypt(encrypt_key: str, encrypted: str) -> str:
    try:
        data = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise CallbackRefused("unparsable", "encrypt is not base64") from None
    if len(data) < 32 or len(data) % 16:
        raise CallbackRefused("unparsable", "encrypt is not an IV and whole AES blocks")
    decryptor = _cipher(encrypt_key, data[:16]).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(decryptor.update(data[16:]) + decryptor.finalize()) + unpadder.finalize()
        return plain.decode()
    except (ValueError, UnicodeDecodeError):
        raise CallbackRefused("unparsable", "encrypt does not decrypt with this Encrypt Key") from None


def encrypt(encrypt_key: str, plain: str, iv: bytes | None = None) -> str:
    """As Feishu encrypts (for the fakes and round trips)."""
    iv = iv or os.urandom(16)
    padder = padding.PKCS7(128).padder()
    encryptor = _cipher(encrypt_key, iv).encryptor()
    padded = padder.update(plain.encode()) + padder.finalize()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def open_event(body: bytes, headers: dict[str, str], encrypt_key: str, verification_token: str) -> dict:
    """The event a callback carries, once it decrypts and its token (and, for events, its signature) holds.

    Feishu signs events but not the `url_verification` challenge; the challenge is trusted only through the
    token inside the encrypted payload."""
    try:
        outer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CallbackRefused("unparsable", "the body is not JSON") from None
    if not isinstance(outer, dict) or not isinstance(outer.get("encrypt"), str):
        raise CallbackRefused("unparsable", "the body has no encrypt field (set an Encrypt Key in Feishu)")
    try:
        event = json.loads(decrypt(encrypt_key, outer["encrypt"]))
    except ValueError:
        raise CallbackRefused("unparsable", "the decrypted event is not JSON") from None
    if not isinstance(event, dict):
        raise CallbackRefused("unparsable", "the decrypted event is not an object")
    token = event.get("token") if event.get("type") == "url_verification" else (event.get("header") or {}).get("token")
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), verification_token.encode()):
        raise CallbackRefused("token_invalid", "the verification token does not match")
    if event.get("type") != "url_verification":
        given = headers.get("x-lark-signature", "")
        expected = signature(headers.get("x-lark-request-timestamp", ""), headers.get("x-lark-request-nonce", ""),
                             encrypt_key, body)
        if not hmac.compare_digest(expected, given):
            raise CallbackRefused("signature_invalid", "X-Lark-Signature does not match")
    return event
