"""Roadster Express links (seed 003) checked against the ``openssl enc -aes-256-cbc`` command
and against the sandbox's independent decryption, with and without a 32-byte key."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from app.connectors.roadster import cipher_key, encrypt, express_url, mem_plaintext
from sandbox.roadster import decrypt_token, parse_customer

KEY32 = base64.b64encode(bytes(range(32))).decode()  # 32 bytes: used as is
KEY16 = base64.b64encode(b"sixteen byte key").decode()  # not 32 bytes: SHA-256'd
KEY_TEXT = base64.b64encode(b"your_encryption_key").decode()
DOCS = {"fname": "Testing", "lname": "Bot", "email": "testing@roadster.com", "phone": "800-505-1000"}
IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


def openssl(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """The ciphertext from the real command line (PKCS#7 padding is openssl's default)."""
    done = subprocess.run(
        ["openssl", "enc", "-aes-256-cbc", "-K", key.hex(), "-iv", iv.hex()],
        input=plaintext, capture_output=True, check=True,
    )
    return done.stdout


def test_the_docs_example_query_string_is_encoded_exactly_as_documented() -> None:
    documented = b"fname%3DTesting%26lname%3DBot%26email%3Dtesting%40roadster.com%26phone%3D800-505-1000"
    assert mem_plaintext(DOCS) == documented


@pytest.mark.parametrize(
    ("customer", "decoded"),
    [
        (DOCS, DOCS),
        # Reserved characters in values survive the round trip (plus-addressing, "&" in a name).
        ({"fname": "Zoë & Co", "lname": "O'Neil", "email": "a+b@x.test", "custid": "42"},
         {"fname": "Zoë & Co", "lname": "O'Neil", "email": "a+b@x.test", "custid": "42"}),
        ({"fname": "", "email": "only@x.test", "phone": None}, {"email": "only@x.test"}),
    ],
)
def test_plaintext_decodes_to_the_fields(customer: dict, decoded: dict) -> None:
    fields, form = parse_customer(mem_plaintext(customer))
    assert (fields, form) == (decoded, "encoded")


@pytest.mark.parametrize(
    ("key_text", "expected_key"),
    [
        (KEY32, bytes(range(32))),
        (KEY16, hashlib.sha256(b"sixteen byte key").digest()),
        (KEY_TEXT, hashlib.sha256(b"your_encryption_key").digest()),
    ],
)
def test_key_derivation(key_text: str, expected_key: bytes) -> None:
    assert cipher_key(key_text) == expected_key


@pytest.mark.parametrize("key_text", [KEY32, KEY16, KEY_TEXT])
@pytest.mark.parametrize("customer", [DOCS, {"fname": "Amira", "lname": "Haddad", "email": "amira@example.test",
                                             "phone": "+971501234567", "custid": "17"}])
def test_tokens_match_openssl_byte_for_byte(key_text: str, customer: dict) -> None:
    plaintext = mem_plaintext(customer)
    token = encrypt(cipher_key(key_text), plaintext, IV)
    blob = base64.b64decode(token, validate=True)
    assert blob[:16] == IV
    assert blob[16:] == openssl(cipher_key(key_text), IV, plaintext)
    assert "\n" not in token


@pytest.mark.parametrize("key_text", [KEY32, KEY16])
def test_links_use_a_fresh_iv_and_the_sandbox_decrypts_them(key_text: str) -> None:
    first = express_url("https://brickellmazda.roadster.com/", "JM1NDAM77K0306400", DOCS, key_text)
    second = express_url("https://brickellmazda.roadster.com", "JM1NDAM77K0306400", DOCS, key_text)
    assert first != second  # random IV
    for url in (first, second):
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "brickellmazda.roadster.com",
                                                            "/express/JM1NDAM77K0306400")
        raw_mem = parts.query.removeprefix("mem=")
        assert not set(raw_mem) & set("+/=")  # URL-escaped (CGI.escape)
        (token,) = parse_qs(parts.query)["mem"]
        assert token == unquote(raw_mem)
        assert parse_customer(decrypt_token(key_text, token))[0] == DOCS


def test_a_bad_key_is_refused() -> None:
    for bad in ("not base64!", ""):
        with pytest.raises(ValueError):
            cipher_key(bad)
