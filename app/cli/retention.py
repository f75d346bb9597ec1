"""`flask retention preview` and `flask retention run [--dry-run] [--policy NAME]`."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import database


@click.group("retention", cls=AppGroup, help="Retention policies and their sweeps.")
def retention_cli():
    pass


def _print_preview(rows: list[dict]) -> None:
    from app.services.retention.policies import totals
    for r in rows:
        p = r["policy"]
        state = "" if p.row.enabled else "  (disabled)"
        click.echo(f"{p.category:<36} {p.row.action:<9} after {p.row.days:>4} days: {r['expired']:>8} expired, "
                   f"{r['withdrawn']:>6} under withdrawn consent{state}")
    t = totals([r for r in rows if r["policy"].row.enabled])
    click.echo(f"Total for enabled policies: {t['expired']} expired, {t['withdrawn']} under withdrawn consent.")


@retention_cli.command("preview", help="What the next sweep would act on, per policy.")
def retention_preview():
    from app.services.retention.policies import preview
    with database.connection_context():
        _print_preview(preview())


@retention_cli.command("run", help="Sweep now (every enabled policy, or one), in this process.")
@click.option("--dry-run", is_flag=True, help="Only say what would be acted on.")
@click.option("--policy", "category", default=None, help="The category of one policy, e.g. 'Call logs'.")
def retention_run(dry_run, category):
    from app.services.platform.errors import ServiceError
    from app.services.retention import policies
    with database.connection_context():
        try:
            if dry_run:
                if category is not None:
                    policies.policy(category)  # refuses an unknown category, as the real run does
                rows = policies.preview()
                _print_preview([r for r in rows if category in (None, r["policy"].category)])
                return
            run = policies.sweep(policies.start_run("cli", only=category, queued=False))
        except ServiceError as e:
            raise click.ClickException(e.message)
    for name, count in sorted(run.counts_dict.items()):
        click.echo(f"{name:<36} {count:>8} rows")
    click.echo(f"Run {run.id} {run.status}: {run.total} rows acted on." + (f"\n{run.errors}" if run.errors else ""))
    if run.status != "done":
        raise SystemExit(1)
