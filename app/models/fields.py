"""Column types of our own."""
from __future__ import annotations

import peewee
from cryptography.fernet import Fernet, MultiFernet


class Cipher:
    """Holds the data-encryption key(s). Set once at app start from configuration;
    a comma-separated list allows key rotation (first key encrypts, all decrypt)."""
    _fernet: MultiFernet | None = None

    @classmethod
    def configure(cls, keys: str) -> None:
        cls._fernet = MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])

    @classmethod
    def get(cls) -> MultiFernet:
        if cls._fernet is None:
            raise RuntimeError("data-encryption key not configured (create_app does it)")
        return cls._fernet


class EncryptedTextField(peewee.TextField):
    """Text encrypted at rest with Fernet (AES-128-CBC + HMAC); secrets such as TOTP
    seeds and OAuth tokens never sit in the database in clear."""

    def db_value(self, value):
        if value is None:
            return None
        return Cipher.get().encrypt(value.encode()).decode()

    def python_value(self, value):
        if value is None:
            return None
        return Cipher.get().decrypt(value.encode()).decode()


class EncryptedBytesField(EncryptedTextField):
    """Bytes encrypted at rest the same way (a whole email, attachments included).
    A subclass, so that key rotation (app.services.platform.key_rotation) re-encrypts it too."""

    def db_value(self, value):
        return None if value is None else Cipher.get().encrypt(value).decode()

    def python_value(self, value):
        return None if value is None else Cipher.get().decrypt(value.encode())
