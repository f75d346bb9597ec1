"""The legal clocks, to the day."""
from datetime import datetime

import pytest

from app.services.rights.deadlines import (
    add_months,
    days_left,
    due_date,
    extended_due_date,
    jurisdiction_for,
    receipt_confirmation_due,
)


@pytest.mark.parametrize("received,due", [
    (datetime(2026, 1, 31, 9), datetime(2026, 2, 28, 9)),   # no 31 February: the month's last day
    (datetime(2028, 1, 31, 9), datetime(2028, 2, 29, 9)),   # leap year
    (datetime(2026, 3, 15, 9), datetime(2026, 4, 15, 9)),
    (datetime(2026, 12, 20, 9), datetime(2027, 1, 20, 9)),  # across the year
])
def test_gdpr_gives_one_calendar_month(received, due):
    assert due_date(received, "GDPR") == due and due_date(received, "UK") == due


def test_a_gdpr_extension_adds_two_months_to_the_due_date():
    assert extended_due_date(datetime(2026, 2, 28), "GDPR") == datetime(2026, 4, 28)
    assert extended_due_date(add_months(datetime(2026, 12, 31), 1), "UK") == datetime(2027, 3, 31)


def test_ccpa_gives_45_days_and_one_extension_of_45():
    due = due_date(datetime(2026, 1, 1), "CCPA")
    assert due == datetime(2026, 2, 15)
    assert extended_due_date(due, "CCPA") == datetime(2026, 4, 1)


def test_india_gives_90_days_without_extension():
    assert due_date(datetime(2026, 1, 1), "IN") == datetime(2026, 4, 1)
    with pytest.raises(ValueError):
        extended_due_date(datetime(2026, 4, 1), "IN")


def test_ccpa_receipt_is_confirmed_within_ten_business_days():
    assert receipt_confirmation_due(datetime(2026, 11, 20)) == datetime(2026, 12, 4)  # Friday -> Friday, 2 weekends


def test_jurisdiction_from_country_and_days_left():
    assert [jurisdiction_for(c) for c in ("DE", "GB", "US", "IN", "", None)] == ["GDPR", "UK", "CCPA", "IN", "GDPR", "GDPR"]
    assert days_left(datetime(2026, 1, 10, 23), datetime(2026, 1, 8, 1)) == 2
    assert days_left(datetime(2026, 1, 10), datetime(2026, 1, 12)) == -2
