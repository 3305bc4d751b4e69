"""The callback encryption WeCom and DingTalk share (WeCom's 加解密方案, DingTalk's DingCallbackCrypto).

`msg_signature` is the hex SHA-1 of the sorted token, timestamp, nonce and ciphertext; the ciphertext is
AES-256-CBC under the EncodingAESKey (IV = the key's first 16 bytes) over random(16) ‖ length (4 bytes, big
endian) ‖ message ‖ receive id, PKCS#7-padded to a multiple of 32 bytes. The receive id is the corp id on
WeCom and the app key on DingTalk: a message made for another corp or app decrypts but is refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from qunyun.inbound.refusal import CallbackRefused

BLOCK = 32


def signature(token: str, timestamp: str, nonce: str, ciphertext: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, ciphertext])).encode()).hexdigest()


def _aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("an EncodingAESKey is 43 characters of base64 (32 bytes)")
    return key


@dataclass(frozen=True)
class MsgCrypt:
    token: str
    encoding_aes_key: str
    receive_id: str

    def open(self, msg_signature: str, timestamp: str, nonce: str, ciphertext: str) -> str:
        """The message inside a callback, once its signature and receive id are right."""
        expected = signature(self.token, timestamp, nonce, ciphertext)
        if not hmac.compare_digest(expected, (msg_signature or "").lower()):
            raise CallbackRefused("signature_invalid", "msg_signature does not match")
        message, receive_id = self._decrypt(ciphertext)
        if not hmac.compare_digest(receive_id.encode(), self.receive_id.encode()):
            raise CallbackRefused("receive_id_mismatch", "the message was made for another receive id")
        return message

    def seal(self, message: str, timestamp: str, nonce: str, random16: bytes | None = None) -> dict[str, str]:
        """A message encrypted and signed as the platform does (DingTalk's `success` answer; the fakes)."""
        ciphertext = self._encrypt(message, random16 or os.urandom(16))
        return {"msg_signature": signature(self.token, timestamp, nonce, ciphertext), "encrypt": ciphertext,
                "timeStamp": timestamp, "nonce": nonce}

    def _cipher(self) -> Cipher:
        key = _aes_key(self.encoding_aes_key)
        return Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def _encrypt(self, message: str, random16: bytes) -> str:
        body = message.encode()
        plain = random16 + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()

    def _decrypt(self, ciphertext: str) -> tuple[str, str]:
        try:
            data = base64.b64decode(ciphertext, validate=True)
        except (binascii.Error, ValueError):
            raise CallbackRefused("unparsable", "the ciphertext is not base64") from None
        if not data or len(data) % 16:
            raise CallbackRefused("unparsable", "the ciphertext is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad or len(plain) - pad < 20:
            raise CallbackRefused("unparsable", "the plaintext's padding is corrupt")
        content = plain[16:-pad]
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise CallbackRefused("unparsable", "the message length runs past the plaintext")
        try:
            return content[4:4 + length].decode(), content[4 + length:].decode()
        except UnicodeDecodeError:
            raise CallbackRefused("unparsable", "the plaintext is not UTF-8") from None
