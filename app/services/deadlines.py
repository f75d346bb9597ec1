"""The legal clock (LEGAL.md): GDPR Art. 12(3) answers within one calendar month."""
from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, or that month's last day when the day does not
    exist there (31 January + 1 month = 28 or 29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_date(received_at: datetime, jurisdiction: str = "GDPR") -> datetime:
    if jurisdiction != "GDPR":
        raise ValueError(f"no clock for {jurisdiction} yet")  # CCPA and others come with the DPO console
    return add_months(received_at, 1)
