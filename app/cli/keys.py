"""`flask keys rotate`: re-encrypt the secrets at rest with the first DATA_ENCRYPTION_KEY
(app.services.platform.key_rotation), so that an older key can be retired."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import database


@click.group("keys", cls=AppGroup, help="The data-encryption keys.")
def keys_cli():
    pass


@keys_cli.command("rotate", help="Re-encrypt every secret at rest with the first DATA_ENCRYPTION_KEY.")
def keys_rotate():
    from app.services.platform.key_rotation import rotate_secrets
    with database.connection_context():
        done = rotate_secrets()
    for r in done:
        click.echo(f"{r.table}: {r.rows} row(s) re-encrypted")
    click.echo("Done. Keys after the first may be removed once no backup made with them is still needed.")
