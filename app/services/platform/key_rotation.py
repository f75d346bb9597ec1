"""Retiring a data-encryption key. DATA_ENCRYPTION_KEY may list several Fernet keys: the
first encrypts, all decrypt. After a new key is put first, `rotate_secrets` re-encrypts
every secret at rest with it (TOTP seeds, OAuth tokens, an erasure's address kept until
its certificate is sent), so that the old key can then be dropped from the list.

Encrypted backups are not rewritten: each stays readable while the key it was made
with is listed, that is, for the 90 days backups are kept."""
from __future__ import annotations

import json
from dataclasses import dataclass

from app.db import database
from app.models import ALL_MODELS, PrivacyRequest
from app.models.fields import Cipher, EncryptedTextField

BATCH = 500


@dataclass(frozen=True)
class Rotated:
    table: str
    rows: int


def rotate_secrets() -> list[Rotated]:
    """Re-encrypt every encrypted column with the first key; return the rows per table.
    Batched by id, each batch its own transaction: a run stopped half-way leaves every
    value readable (old and new keys both decrypt) and is simply run again."""
    done = []
    for model in ALL_MODELS:
        fields = [f for f in model._meta.sorted_fields if isinstance(f, EncryptedTextField)]
        if fields:
            done.append(Rotated(model._meta.table_name, _rewrite(model, fields)))
    done.append(Rotated("privacy_request (erasure notice address)", _rotate_erasure_addresses()))
    return done


def _rewrite(model, fields) -> int:
    """Read through the fields (decrypting with any listed key) and write back (which
    encrypts with the first)."""
    rows, after = 0, 0
    while True:
        with database.atomic():
            batch = list(model.select(model._meta.primary_key, *fields).where(model._meta.primary_key > after)
                         .order_by(model._meta.primary_key).limit(BATCH))
            for row in batch:
                values = {f: getattr(row, f.name) for f in fields if getattr(row, f.name) is not None}
                if values:
                    model.update(values).where(model._meta.primary_key == row._pk).execute()
                    rows += 1
        if len(batch) < BATCH:
            return rows
        after = batch[-1]._pk


def _rotate_erasure_addresses() -> int:
    rows = 0
    with database.atomic():
        for request in PrivacyRequest.select().where(PrivacyRequest.report.contains('"notice_to": "')):
            report = json.loads(request.report)
            report["notice_to"] = Cipher.get().rotate(report["notice_to"].encode()).decode()
            PrivacyRequest.update(report=json.dumps(report)).where(PrivacyRequest.id == request.id).execute()
            rows += 1
    return rows
