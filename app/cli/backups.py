"""`flask backup …`: encrypted database snapshots (app.services.retention.backups)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import database


@click.group("backup", cls=AppGroup, help="Encrypted database backups; a restore re-applies later erasures.")
def backup_cli():
    pass


@backup_cli.command("create", help="Write an encrypted snapshot of the database into instance/backups/.")
def backup_create():
    from app.services.retention.backups import BackupError, create_backup
    try:
        with database.connection_context():
            path = create_backup()
    except BackupError as e:
        raise click.ClickException(e.message)
    click.echo(f"Backup written: {path} ({path.stat().st_size:,} bytes).")


@backup_cli.command("list", help="The snapshots in instance/backups/, newest first.")
def backup_list():
    from app.services.retention.backups import list_backups
    backups = list_backups()
    for b in backups:
        click.echo(f"{b.created_at:%Y-%m-%d %H:%M:%S}Z  {b.database:<10}  {b.size:>14,} bytes  {b.path}")
    if not backups:
        click.echo("No backup yet.")


@backup_cli.command("restore", help="Replace the database with the backup at PATH, then re-apply the erasures "
                                    "made since it was taken. Stop the web server and the scheduler first.")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def backup_restore(path, yes):
    from app.services.retention.backups import BackupError, restore_backup
    if not yes:
        click.confirm(f"Replace the whole database with {path}? Everything written since it was taken is lost, "
                      "except erasures, which are applied again.", abort=True)
    try:
        with database.connection_context():
            restored = restore_backup(path)
    except BackupError as e:
        raise click.ClickException(e.message)
    click.echo(f"Restored the backup of {restored.created_at:%Y-%m-%d %H:%M:%S}Z; "
               f"{restored.logged_since} erasure(s) logged since, {restored.replayed} person(s) erased again.")
