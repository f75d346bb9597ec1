"""Business customers and the accounts that belong to them (app.models.companies).

A company's data is the data of its members: their rows are what we process on the
company's behalf. Its admins are the members with the customer-admin role. We set
membership when a contract starts (`flask companies add`), never from what a person
typed, so no one can join another company's data."""
from __future__ import annotations

import peewee

from app.db import database
from app.models import Company, CompanyMember, Role, User
from app.services.platform import audit
from app.services.platform.errors import ServiceError


def company_of(user: User) -> Company | None:
    return (Company.select().join(CompanyMember, on=(CompanyMember.company == Company.id))
            .where(CompanyMember.user == user.id).first())


def admin_company(user: User) -> Company:
    """The company `user` administers; refuses anyone who is not one of its admins."""
    company = company_of(user) if user.role_enum is Role.CUSTOMER_ADMIN else None
    if company is None:
        raise ServiceError("Your account is not linked to a company yet. Ask us to link it, then try again.", 409)
    return company


def members(company: Company) -> peewee.ModelSelect:
    """The company's accounts, as a query (a subquery for the registry walk)."""
    return User.select().join(CompanyMember, on=(CompanyMember.user == User.id)).where(
        CompanyMember.company == company.id)


def create_company(name: str) -> Company:
    name = " ".join((name or "").split())
    if not 2 <= len(name) <= 200:
        raise ServiceError("Give the company's name (2 to 200 characters).", 400)
    try:
        with database.atomic():
            return Company.create(name=name)
    except peewee.IntegrityError:
        raise ServiceError(f"There is already a company called {name!r}.", 409) from None


def company_named(name: str) -> Company:
    company = Company.get_or_none(Company.name == " ".join((name or "").split()))
    if company is None:
        raise ServiceError(f"There is no company called {name!r}.", 404)
    return company


def add_member(company: Company, user: User, actor: User | None = None) -> CompanyMember:
    """Link an account to the company. An account belongs to one company at most."""
    current = company_of(user)
    if current is not None and current.id != company.id:
        raise ServiceError(f"{user.email} already belongs to {current.name}.", 409)
    with database.atomic():
        member, created = CompanyMember.get_or_create(user=user.id, defaults={"company": company.id})
        if created:
            audit.record(audit.Event("company.member_added", actor=actor, subject=user,
                                     details={"company_id": company.id}))
    return member
