"""The legal clocks (LEGAL.md), per jurisdiction.

GDPR and UK GDPR: one calendar month (Art. 12(3)), extendable once by two months.
CCPA: 45 calendar days (11 CCR §7021), extendable once by 45; receipt confirmed
within 10 business days. India's DPDP Rules: grievances within 90 days."""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta

EU_EEA = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
          "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"}
JURISDICTIONS = ("GDPR", "UK", "CCPA", "IN")
EXTENDABLE = ("GDPR", "UK", "CCPA")


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, or that month's last day when the day does not
    exist there (31 January + 1 month = 28 or 29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def add_business_days(moment: datetime, days: int) -> datetime:
    while days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def jurisdiction_for(country: str | None) -> str:
    """A first guess from the person's country; the DPO can change it."""
    country = (country or "").upper()
    return {"GB": "UK", "US": "CCPA", "IN": "IN"}.get(country, "GDPR")


def due_date(received_at: datetime, jurisdiction: str = "GDPR") -> datetime:
    if jurisdiction in ("GDPR", "UK"):
        return add_months(received_at, 1)
    if jurisdiction == "CCPA":
        return received_at + timedelta(days=45)
    if jurisdiction == "IN":
        return received_at + timedelta(days=90)
    raise ValueError(f"unknown jurisdiction {jurisdiction!r}")


def extended_due_date(due_at: datetime, jurisdiction: str) -> datetime:
    """The one extension the law allows."""
    if jurisdiction in ("GDPR", "UK"):  # EXTENDABLE
        return add_months(due_at, 2)
    if jurisdiction == "CCPA":
        return due_at + timedelta(days=45)
    raise ValueError(f"{jurisdiction} allows no extension")


def receipt_confirmation_due(received_at: datetime) -> datetime:
    return add_business_days(received_at, 10)


def days_left(due_at: datetime, now: datetime) -> int:
    return (due_at.date() - now.date()).days
