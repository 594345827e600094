"""Credentials encrypted at rest with Fernet; several keys allow rotation without downtime.

``FORECOURT_ENCRYPTION_KEYS`` is a comma list: the first key encrypts, every key decrypts,
and ``flask forecourt rotate-keys`` re-encrypts stored values under the first key.
In development only, a key is generated once under ``var/`` so the two-command start works.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from app.config import ConfigError, Settings


class Vault:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._fernet: MultiFernet | None = None

    def init_app(self, settings: Settings) -> None:
        if settings.is_production and not settings.encryption_keys:
            raise ConfigError("FORECOURT_ENCRYPTION_KEYS: required outside development")
        self._settings = settings
        self._fernet = None

    def _keys(self) -> list[str]:
        assert self._settings is not None, "init_app first"
        if self._settings.encryption_keys:
            return list(self._settings.encryption_keys)
        if self._settings.is_production:
            raise ConfigError("FORECOURT_ENCRYPTION_KEYS: required outside development")
        return [_development_key(self._settings.var_dir)]

    @property
    def fernet(self) -> MultiFernet:
        if self._fernet is None:
            try:
                self._fernet = MultiFernet([Fernet(key) for key in self._keys()])
            except ValueError as exc:
                raise ConfigError(f"FORECOURT_ENCRYPTION_KEYS: {exc}") from None
        return self._fernet

    def encrypt(self, plaintext: str) -> str:
        return self.fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                "stored credentials cannot be decrypted with FORECOURT_ENCRYPTION_KEYS "
                "(was a retired key removed before rotate-keys ran?)"
            ) from None

    def rotate(self, token: str) -> str:
        return self.fernet.rotate(token.encode()).decode()

    def derived_keys(self, purpose: str) -> list[bytes]:
        """One key per configured key (the current one first), derived for ``purpose``: for
        keyed lookups of encrypted values (a lead's email) that must survive key rotation."""
        return [hashlib.sha256(f"forecourt:{purpose}:".encode() + key.encode()).digest() for key in self._keys()]


def _development_key(var_dir: Path) -> str:
    path = var_dir / "encryption.key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting together must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode())
    return path.read_text().strip()


vault = Vault()


class EncryptedJSON(TypeDecorator):
    """A JSON value stored as a Fernet token; plaintext never reaches the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return vault.encrypt(json.dumps(value, sort_keys=True))

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        if value is None:
            return None
        return json.loads(vault.decrypt(value))
