"""/integrations: the person connects, re-scopes and disconnects third-party accounts.
The rules are in app.services.integrations.connections; the OAuth dance is Authlib's."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import limiter
from app.models import Job, Role
from app.services.integrations import catalogue, connections
from app.services.integrations.adapters import import_sheet
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from app.web.access import roles
from app.web.auth.forms import EmptyForm
from app.web.headers import allow_form_target
from app.web.integrations.forms import DirectionForm, DisconnectForm, SheetImportForm
from app.web.rendering import render_page_or_fragment

bp = Blueprint("integrations", __name__, url_prefix="/integrations")


@bp.get("/")
@roles(Role.SUBJECT)
def index():
    rows = connections.overview(current_user)
    for row in rows:
        if row["connection"]:
            row["imported"] = connections.imported_count(row["connection"])
            row["direction_form"] = DirectionForm(direction=row["connection"].direction,
                                                  prefix=f"c{row['connection'].id}").offer(row["integration"].directions)
    for row in rows:  # changing the direction may ask the provider for more access
        if row["connection"]:
            allow_form_target(catalogue.provider(row["integration"].provider).discovery_url)
    return render_template("integrations/index.html", rows=rows, disconnect_form=DisconnectForm(),
                           sheet_form=SheetImportForm(), sync_form=EmptyForm())


@bp.route("/<key>/connect", methods=["GET", "POST"])
@roles(Role.SUBJECT)
@limiter.limit("20/hour", methods=["POST"])
def connect(key):
    integration = _offered(key)
    allow_form_target(catalogue.provider(integration.provider).discovery_url)
    asked = request.args.get("direction")
    form = (DirectionForm(direction=asked) if asked in integration.directions else DirectionForm()).offer(
        integration.directions)
    if form.validate_on_submit():
        try:
            return connections.begin_connect(key, form.direction.data,
                                              external_url("integrations.callback", key=key))
        except ServiceError as e:
            flash(e.message, "error")
    return render_template("integrations/connect.html", integration=integration, form=form,
                           provider=catalogue.PROVIDERS[integration.provider])


@bp.get("/<key>/callback")
@roles(Role.SUBJECT)
def callback(key):
    try:
        connection = connections.complete_connect(current_user, key)
    except ServiceError as e:
        return render_template("integrations/failed.html", message=e.message, key=key), e.status
    i = catalogue.integration(key)
    provider = catalogue.PROVIDERS[i.provider].name
    if getattr(connection, "downgraded", False):
        flash(f"{i.name} is connected, for syncing into the CRM only: {provider} did not allow us to write. "
              "Choose “Both ways” again to ask once more.", "success")
    elif i.adapter == "google_sheets":
        flash(f"{i.name} is connected. Give a spreadsheet below to import its rows as leads.", "success")
    else:
        flash(f"{i.name} is connected; the first sync has started.", "success")
    return redirect(url_for("integrations.index") + f"#integration-{key}", 303)


@bp.post("/connections/<int:connection_id>/direction")
@roles(Role.SUBJECT)
def direction(connection_id):
    connection = _mine(connection_id)
    form = DirectionForm(prefix=f"c{connection.id}").offer(catalogue.integration(connection.integration).directions)
    if form.validate_on_submit():
        try:
            connections.set_direction(current_user, connection.id, form.direction.data)
            connections.request_sync(connection)
            flash("Saved: syncing that way now.", "success")
        except connections.NeedsMoreAccess:
            # More access means a new consent, and the disclosure comes right before it.
            return redirect(url_for("integrations.connect", key=connection.integration,
                                    direction=form.direction.data), 303)
        except ServiceError as e:
            flash(e.message, "error")
    return _back_to(connection)


@bp.post("/connections/<int:connection_id>/sync")
@roles(Role.SUBJECT)
@limiter.limit("30/hour")
def sync_now(connection_id):
    connection = _mine(connection_id)
    if EmptyForm().validate_on_submit():
        try:
            connections.request_sync(connection)
            flash("Syncing now. This page shows when it last finished.", "success")
        except ServiceError as e:
            flash(e.message, "error")
    return _back_to(connection)


@bp.post("/connections/<int:connection_id>/sheet")
@roles(Role.SUBJECT)
@limiter.limit("20/hour")
def sheet_import(connection_id):
    connection = _mine(connection_id)
    form = SheetImportForm()
    if form.validate_on_submit():
        try:
            added = import_sheet(connection, form.spreadsheet.data, form.cells.data or "")
            flash(f"{added} leads imported. Nothing else of the sheet was kept.", "success")
        except ServiceError as e:
            flash(e.message, "error")
    else:
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
    return _back_to(connection)


@bp.post("/connections/<int:connection_id>/disconnect")
@roles(Role.SUBJECT)
def disconnect(connection_id):
    connection = _mine(connection_id)
    form = DisconnectForm()
    if not form.validate_on_submit():
        abort(400)
    keep = form.imported.data == "keep"
    job = connections.disconnect(current_user, connection.id, delete_imported=not keep)
    return redirect(url_for("integrations.disconnection", deletion_id=job.id, kept=1 if keep else None), 303)


@bp.get("/disconnections/<int:deletion_id>")
@roles(Role.SUBJECT)
def disconnection(deletion_id):
    job = Job.get_or_none(Job.id == deletion_id, Job.user == current_user.id, Job.kind == "integration_disconnect")
    if job is None:
        abort(404)
    return render_page_or_fragment("integrations/disconnection.html", "integrations/_disconnection.html", job=job,
                                   kept=request.args.get("kept") == "1")


def _back_to(connection):
    return redirect(url_for("integrations.index") + f"#integration-{connection.integration}", 303)


def _offered(key: str):
    try:
        return connections.offered_integration(key)
    except ServiceError:
        abort(404)


def _mine(connection_id: int):
    try:
        return connections.connection_of(current_user, connection_id)
    except ServiceError:
        abort(404)
