"""Roadster Express links: ``<storefront>/express/<vin>?mem=<token>`` (seed 003, "Browser-based
customer submission"), built exactly as the seed's Ruby sample and its notes say:

* the key Roadster hands out is Base64 text: decoded, then SHA-256'd when it is not 32 bytes;
* the plaintext is the query string ``fname, lname, email, phone, custid``, URL-encoded before
  encryption. Each value is escaped as in any query string (so ``&``, ``=``, ``+`` and ``%`` in a
  value survive), ``@`` excepted, and the whole string is then URL-encoded once more: for the
  docs' example customer this gives their example byte for byte
  (``fname%3DTesting%26lname%3DBot%26email%3Dtesting%40roadster.com%26phone%3D800-505-1000``);
* AES-256-CBC with a random 16-byte IV and PKCS#7 padding;
* the token is ``Base64(IV + ciphertext)`` (no line breaks: Ruby's ``encode64`` adds them, and
  Roadster reads both), URL-escaped (``CGI.escape``) in the link.

Pure functions with no I/O: the connector, the admin API and the benchmark call them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from urllib.parse import quote

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MEM_FIELDS = ("fname", "lname", "email", "phone", "custid")
IV_BYTES = 16


def cipher_key(text: str) -> bytes:
    """The Base64 key text → the 32-byte AES key. Raises ``ValueError`` on a bad key."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the Roadster encryption key must be Base64 text") from exc
    if not raw:
        raise ValueError("the Roadster encryption key is empty")
    return raw if len(raw) == 32 else hashlib.sha256(raw).digest()


def mem_plaintext(customer: Mapping[str, object]) -> bytes:
    """The URL-encoded query string that gets encrypted; empty fields are left out."""
    pairs = [
        f"{name}={quote(str(customer[name]), safe='@')}"
        for name in MEM_FIELDS
        if customer.get(name) not in (None, "")
    ]
    return quote("&".join(pairs), safe="").encode("ascii")


def encrypt(key: bytes, plaintext: bytes, iv: bytes | None = None) -> str:
    """``Base64(IV + AES-256-CBC(PKCS#7(plaintext)))``, not yet URL-escaped. ``iv`` only for
    test vectors: a link must never reuse one."""
    iv = os.urandom(IV_BYTES) if iv is None else iv
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def express_url(
    storefront_url: str, vin: str, customer: Mapping[str, object], key_text: str, *, iv: bytes | None = None
) -> str:
    """The shopper's Express link. ``storefront_url`` is the dealer's storefront base
    (``https://brickellmazda.roadster.com``); ``customer`` holds ``MEM_FIELDS``."""
    token = encrypt(cipher_key(key_text), mem_plaintext(customer), iv)
    return f"{storefront_url.rstrip('/')}/express/{quote(vin, safe='')}?mem={quote(token, safe='')}"
