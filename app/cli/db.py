"""`flask db …`: schema migrations, and the reference data the app needs after them.
Here rather than in app/db.py, so that the database layer never reaches up into the
services (the purposes catalogue is seeded by the command that migrates)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import migration_router, refresh_statistics, upgrade
from app.services.consent.purposes import ensure_catalogue


@click.group("db", cls=AppGroup, help="Schema migrations.")
def db_cli():
    pass


@db_cli.command("upgrade", help="Apply pending migrations.")
def upgrade_command():
    applied = upgrade()
    refresh_statistics()
    click.echo(f"Applied {len(applied)} migration(s): {', '.join(applied)}" if applied
               else "Database schema is up to date.")
    added = ensure_catalogue()
    if added:
        click.echo(f"Added {added} purpose(s) to the catalogue.")


@db_cli.command("revision", help="Write a new migration from the difference between models and schema.")
@click.argument("name")
def revision_command(name):
    from app.models import ALL_MODELS
    migration_router().create(name, auto=list(ALL_MODELS))
