"""Roadster's browser-based customer passing: the ``mem`` token of an Express link.

Exactly as the Roadster docs' Ruby sample: the key is Base64-decoded, then SHA-256'd when it
is not 32 bytes; AES-256-CBC with a random 16-byte IV and PKCS#7 padding; the token is
``Base64(IV + ciphertext)`` (Ruby's ``Base64.encode64``, so line breaks are allowed), URL-escaped
in the link. The plaintext is a URL-encoded query string of ``fname, lname, email, phone,
custid``. ``encrypt_token`` exists for the tests and for anyone building links by hand.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from urllib.parse import parse_qsl, quote, unquote, urlencode

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

FIELDS = ("fname", "lname", "email", "phone", "custid")
_BLOCK = 16


class TokenError(ValueError):
    """The ``mem`` token cannot be read with the dealer's key; the message says why."""


def parse_cipher_key(text: str) -> bytes:
    """The Base64 text Roadster hands out → the 32-byte AES key. Raises ``ValueError``."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as exc:
        raise ValueError("encryption key must be Base64") from exc
    if not raw:
        raise ValueError("encryption key must not be empty")
    return raw if len(raw) == 32 else hashlib.sha256(raw).digest()


def encrypt_token(cipher_key: str, plaintext: bytes, iv: bytes | None = None) -> str:
    """Base64(IV + AES-256-CBC(plaintext)), not yet URL-escaped."""
    iv = os.urandom(_BLOCK) if iv is None else iv
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(parse_cipher_key(cipher_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(data) + enc.finalize()).decode("ascii")


def decrypt_token(cipher_key: str, token: str) -> bytes:
    """Undo ``encrypt_token`` on a token whose URL escaping the web framework already removed."""
    compact = "".join(token.split())  # Base64.encode64 breaks lines every 60 characters
    if " " in token.strip():
        # Only an unescaped "+" turns into a space; Roadster would fail on it, so do we.
        raise TokenError("mem token contains spaces: it was not URL-escaped (CGI.escape) before use")
    try:
        blob = base64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        raise TokenError("mem token is not Base64") from exc
    if len(blob) < 2 * _BLOCK or len(blob) % _BLOCK:
        raise TokenError("mem token is not IV + AES-256-CBC ciphertext (wrong length)")
    iv, body = blob[:_BLOCK], blob[_BLOCK:]
    dec = Cipher(algorithms.AES(parse_cipher_key(cipher_key)), modes.CBC(iv)).decryptor()
    padded = dec.update(body) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise TokenError("mem token does not decrypt with this dealer's key (bad padding)") from exc


def parse_customer(plaintext: bytes) -> tuple[dict[str, str], str]:
    """The decrypted query string → (fields, form).

    Form ``query`` is ``fname=Testing&email=testing%40roadster.com`` (Ruby's ``to_query``);
    form ``encoded`` is the same string URL-encoded once more, as the docs' shell sample shows
    (``fname%3DTesting%26email%3D...``). Both appear in the docs, so both are read.
    """
    try:
        text = plaintext.decode("utf-8").strip()  # ``echo data | openssl`` adds a newline
    except UnicodeDecodeError as exc:
        raise TokenError("decrypted data is not UTF-8 text") from exc
    form = "query"
    if "=" not in text and "%3d" in text.lower():
        text, form = unquote(text), "encoded"
    if "=" not in text:
        raise TokenError("decrypted data is not a query string")
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name in FIELDS and name not in fields:
            fields[name] = value
    return fields, form


def build_query(customer: dict[str, str], *, double_encode: bool = False) -> bytes:
    """The plaintext for ``encrypt_token``: fields in the documented order."""
    text = urlencode([(k, customer[k]) for k in FIELDS if customer.get(k) is not None])
    if double_encode:
        text = quote(text, safe="")  # the whole string percent-encoded once more
    return text.encode("utf-8")
