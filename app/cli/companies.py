"""`flask companies …`: the business customers and the accounts that belong to each
(app.services.agreements.companies). Membership decides whose data a company's
export holds, so it is set here by us, never by what a person typed."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import database


@click.group("companies", cls=AppGroup, help="Business customers and their accounts.")
def companies_cli():
    pass


@companies_cli.command("create", help="Add a business customer.")
@click.argument("name")
def companies_create(name):
    from app.services.agreements.companies import create_company
    from app.services.platform.errors import ServiceError
    with database.connection_context():
        try:
            company = create_company(name)
        except ServiceError as e:
            raise click.ClickException(e.message) from None
    click.echo(f"Company {company.id}: {company.name}")


@companies_cli.command("add", help="Link an account (by email) to a company (by name).")
@click.argument("name")
@click.argument("email")
def companies_add(name, email):
    from app.models import User
    from app.services.agreements.companies import add_member, company_named
    from app.services.platform.errors import ServiceError
    with database.connection_context():
        user = User.by_email(email)
        if user is None:
            raise click.ClickException(f"There is no account {email}.")
        try:
            add_member(company_named(name), user)
        except ServiceError as e:
            raise click.ClickException(e.message) from None
    click.echo(f"{user.email} now belongs to {name}.")
