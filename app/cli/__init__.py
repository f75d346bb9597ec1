"""The `flask …` commands: migrations (app.cli.db), demo data, audit verification, the scheduler,
the demo mail catcher, the inbound mail server and the DPO's digest."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app.cli.backups import backup_cli
from app.cli.db import db_cli
from app.cli.keys import keys_cli
from app.db import database
from app.services.platform.jobs import WORKERS


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(audit_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(devmail_cli)
    app.cli.add_command(inbound_cli)
    app.cli.add_command(requests_cli)
    app.cli.add_command(dpo_cli)
    app.cli.add_command(backup_cli)
    from app.cli.retention import retention_cli
    app.cli.add_command(retention_cli)
    from app.cli.companies import companies_cli
    app.cli.add_command(companies_cli)


@click.command("demo", help="Seed the demo data once (does nothing if already seeded).")
@with_appcontext
def demo_command():
    from app.services.demo import demo_logins_text, seed_demo
    with database.connection_context():
        created = seed_demo(Path(current_app.instance_path))
    click.echo("Demo data seeded." if created else "Demo data already present.")
    click.echo(demo_logins_text(current_app.config["BASE_URL"]))


@click.group("audit", cls=AppGroup, help="The hash-chained audit log.")
def audit_cli():
    pass


@audit_cli.command("verify", help="Check every record's hash; exit 1 at the first broken link.")
def audit_verify():
    from app.services.platform.audit import verify_chain
    with database.connection_context():
        intact, checked, broken_at = verify_chain()
    if intact:
        click.echo(f"Audit chain intact: {checked} record(s) verified.")
    else:
        click.echo(f"Audit chain BROKEN at record {broken_at} (after {checked} good record(s)).", err=True)
        raise SystemExit(1)


@click.group("jobs", cls=AppGroup, help="The scheduler process.")
def jobs_cli():
    pass


@jobs_cli.command("run", help="Run the scheduler in the foreground (one per SQLite database; replicas are fine on "
                               "PostgreSQL). SIGTERM or Ctrl-C stops it within seconds, handing unfinished work back.")
@click.option("--workers", type=click.IntRange(1, 32), default=WORKERS, show_default=True,
              help="Threads that run queued jobs; one kind of job never takes them all (when there are two or more).")
def jobs_run(workers):
    from app.services.platform.errors import ServiceError
    from jobs import SchedulerProcess
    process = SchedulerProcess(current_app._get_current_object(), workers)

    def stop(signum, frame):
        if process.stopping.is_set():
            os._exit(128 + signum)  # a second signal: now, whatever is left
        process.stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        caught_up = process.start()
    except ServiceError as e:
        raise click.ClickException(e.message)
    if caught_up:
        click.echo("Catching up runs missed while the scheduler was down: " + ", ".join(caught_up))
    click.echo("Scheduler running: " + ", ".join(j.id for j in process.scheduler.get_jobs()), nl=True)
    while not process.stopping.wait(1):
        pass
    click.echo("Stopping: no new work; running jobs stop at their next safe point and go back to the queue.")
    if not process.stop():
        click.echo("Some work did not stop in time; it is taken up again at the next start.", err=True)
        sys.stdout.flush()
        os._exit(0)  # its threads cannot be joined; their claims are released or marked
    click.echo("Scheduler stopped.")


@click.group("devmail", cls=AppGroup, help="The demo's catch-all SMTP server.")
def devmail_cli():
    pass


@devmail_cli.command("run", help="Catch all mail sent to MAIL_URL's host:port into instance/mailbox.")
def devmail_run():
    from app.devmail import serve_forever
    url = urlsplit(current_app.config["MAIL_URL"])
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise click.UsageError("MAIL_URL must point at this machine to catch mail here.")
    click.echo(f"Catching mail on {url.hostname}:{url.port}; read it at /dev/mailbox")
    serve_forever(Path(current_app.instance_path) / "mailbox", url.hostname, url.port)


@click.group("inbound", cls=AppGroup, help="Mail that comes back: mailto: unsubscribes and bounces.")
def inbound_cli():
    pass


@inbound_cli.command("run", help="Receive unsubscribe mails and bounces on INBOUND_MAIL_BIND (host:port).")
def inbound_run():
    from app.cli.inbound import serve_forever
    host, _, port = current_app.config["INBOUND_MAIL_BIND"].rpartition(":")
    if not host or not port.isdigit():
        raise click.UsageError("INBOUND_MAIL_BIND must be host:port, for example 127.0.0.1:8026.")
    click.echo(f"Receiving unsubscribe mails and bounces on {host}:{port}")
    serve_forever(current_app._get_current_object(), host, int(port))


@click.group("requests", cls=AppGroup, help="Privacy requests (until the DPO console decides them).")
def requests_cli():
    pass


@requests_cli.command("list", help="Requests waiting for a decision.")
def requests_list():
    from app.models import PrivacyRequest
    with database.connection_context():
        waiting = list(PrivacyRequest.select().where(PrivacyRequest.status == "pending_review")
                       .order_by(PrivacyRequest.due_at))
    for r in waiting:
        click.echo(f"{r.id:>6}  {r.kind:<14} due {r.due_at:%Y-%m-%d}  received {r.received_at:%Y-%m-%d}")
    if not waiting:
        click.echo("No request is waiting for a decision.")


@requests_cli.command("approve", help="Approve request ID; an erasure then runs as a job.")
@click.argument("request_id", type=int)
def requests_approve(request_id):
    from app.services.platform.errors import ServiceError
    from app.services.rights.requests import approve_request
    try:
        with database.connection_context():
            request = approve_request(request_id)
    except ServiceError as e:
        raise click.ClickException(e.message)
    click.echo(f"Request {request.id} approved: {request.status}.")


@click.group("dpo", cls=AppGroup, help="The data protection officer's tools.")
def dpo_cli():
    pass


@dpo_cli.command("digest", help="Email each DPO today's digest of overdue and soon-due requests, if not sent yet.")
def dpo_digest():
    from app.services.rights.digest import send_dpo_digests
    with database.connection_context():
        sent = send_dpo_digests()
    click.echo(f"DPO digests sent: {sent}.")
