"""The figures on the DPO's dashboard, and the yearly metrics CCPA asks businesses to
disclose (11 CCR §7102(a)).

Each figure is one aggregate query (COUNT / SUM … GROUP BY) over an indexed range;
the indexes are in migration 010. Nothing here loads requests row by row: at most a
few hundred grouped rows come back, whatever the size of the tables.

Days are calendar days between two dates (received 1 March, answered 4 March: 3
days), the way the legal clocks count them, computed in SQL as exact integers so that
SQLite and PostgreSQL give identical answers. Weeks start on Monday, in UTC
(app.services.platform.weekly)."""
from __future__ import annotations

import csv
import io
import operator
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import reduce

import peewee
from peewee import SQL, Case, Value, fn

from app.db import database, is_postgres
from app.models import ConsentEvent, DataExport, Job, PrivacyRequest, Purpose, PurposeKind, RequestKind, RequestStatus
from app.models.base import utcnow
from app.services.platform.errors import ServiceError
from app.services.platform.weekly import WeekCount, count_per_week, day_number
from app.services.rights.deadlines import add_months
from app.services.rights.dpo import due_window
from app.services.rights.exports import JOB_KIND as EXPORT_JOB_KIND
from app.services.rights.requests import OPEN

FIRST_YEAR = 2000
OPEN_VALUES = [s.value for s in OPEN]
COMPLETED, DENIED = RequestStatus.COMPLETED.value, RequestStatus.DENIED.value
PR = PrivacyRequest


@dataclass(frozen=True)
class KindCount:
    kind: str
    open: int
    overdue: int


@dataclass(frozen=True)
class CcpaRow:
    request_type: str
    received: int
    complied: int   # complied with in whole or in part
    denied: int
    median_days: float | None  # None: nothing answered yet
    note: str = ""


@dataclass(frozen=True)
class CcpaYear:
    year: int
    rows: list[CcpaRow]


@dataclass(frozen=True)
class Dashboard:
    by_kind: list[KindCount]
    median_days_to_close: float | None
    closed_last_12_months: int
    requests_per_week: list[WeekCount]
    withdrawals_per_week: list[WeekCount]

    @property
    def open_total(self) -> int:
        return sum(k.open for k in self.by_kind)

    @property
    def overdue_total(self) -> int:
        return sum(k.overdue for k in self.by_kind)


def dashboard(now: datetime | None = None) -> Dashboard:
    """The figures of the moment. The yearly CCPA metrics, the heaviest part, are
    separate (ccpa_metrics): the page asks for them in a request of their own."""
    now = now or utcnow()
    median, closed = median_days_to_close(now)
    return Dashboard(by_kind=open_by_kind(now), median_days_to_close=median, closed_last_12_months=closed,
                     requests_per_week=requests_per_week(now), withdrawals_per_week=withdrawals_per_week(now))


# --- open requests -----------------------------------------------------------------

def open_by_kind(now: datetime | None = None) -> list[KindCount]:
    """Open requests (as in the queue) per kind, and how many of them are past due.
    One pass over the (status, kind, due_at) index: the table itself is not read."""
    now = now or utcnow()
    overdue = fn.SUM(Case(None, [(due_window("overdue", now), 1)], 0))  # by date, as the queue counts
    rows = (PR.select(PR.kind, fn.COUNT(SQL("*")), overdue).where(PR.status.in_(OPEN_VALUES))
            .group_by(PR.kind).tuples())
    found = {kind: (count, int(late or 0)) for kind, count, late in rows}
    return [KindCount(k.value, *found.get(k.value, (0, 0))) for k in RequestKind]


# --- time to close -----------------------------------------------------------------

def median_days_to_close(now: datetime | None = None) -> tuple[float | None, int]:
    """Median calendar days from receipt to closing, over the requests closed in the
    last 12 months (completed, or denied), and how many that is.

    SQLite has no median. Sorting every closed request by its duration cannot use an
    index (the duration is computed), so instead SQL counts requests per whole number
    of days — a histogram of a few hundred rows at most, as requests close within
    months — and median_of() walks it. Exact, one pass over two index ranges."""
    since = add_months(now or utcnow(), -12)
    completed = (PR.select(_days_between(PR.received_at, PR.completed_at).alias("days"))
                 .where(PR.status == COMPLETED, PR.completed_at >= since))
    denied = (PR.select(_days_between(PR.received_at, PR.decided_at).alias("days"))
              .where(PR.status == DENIED, PR.decided_at >= since))
    closed = (completed + denied).alias("closed")  # UNION ALL
    query = peewee.Select([closed], [closed.c.days, fn.COUNT(SQL("*"))]).group_by(closed.c.days)
    histogram = dict(query.bind(database).tuples())
    return median_of(histogram), sum(histogram.values())


def median_of(histogram: dict[int, int]) -> float | None:
    """The median of values given as {value: how many times}; the mean of the two
    middle values when the count is even."""
    total = sum(histogram.values())
    if not total:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2  # 0-based ranks of the middle one or two
    seen, lower = 0, None
    for value in sorted(histogram):
        seen += histogram[value]
        if lower is None and seen > lower_rank:
            lower = value
        if seen > upper_rank:
            return (lower + value) / 2
    raise AssertionError("unreachable: the ranks are below the total")


# --- weekly series -----------------------------------------------------------------

def requests_per_week(now: datetime | None = None) -> list[WeekCount]:
    """Requests received per week (of every kind and outcome)."""
    return count_per_week(PR, PR.received_at, now=now)


def withdrawals_per_week(now: datetime | None = None) -> list[WeekCount]:
    """Consent withdrawals (ledger events saying no, of any purpose) per week."""
    return count_per_week(ConsentEvent, ConsentEvent.occurred_at, ConsentEvent.granted == False,  # noqa: E712
                          now=now)


# --- the yearly CCPA metrics ---------------------------------------------------------

CCPA_LABELS = {
    "know": "Know / access (self-service data exports)",
    RequestKind.DELETION.value: "Delete",
    RequestKind.RECTIFICATION.value: "Correct",
    "opt_out": "Opt out of sale/sharing (sharing consent withdrawn, including Global Privacy Control)",
    RequestKind.RESTRICTION.value: "Restrict processing (GDPR Art. 18; no CCPA category)",
    RequestKind.OBJECTION.value: "Object to direct marketing (GDPR Art. 21; no CCPA category)",
}
CCPA_NOTES = {
    "know": "Counts only exports still on record: an export's record is deleted about 37 days after it is ready.",
    "opt_out": "Takes effect at once, so never denied and answered the same day.",
}
CCPA_ORDER = ("know", RequestKind.DELETION.value, RequestKind.RECTIFICATION.value, "opt_out",
              RequestKind.RESTRICTION.value, RequestKind.OBJECTION.value)


def ccpa_metrics(year: int) -> CcpaYear:
    """For one calendar year, per request type: received, complied with in whole or in
    part, denied, and the median days to respond (11 CCR §7102(a)(1)).

    How our requests map onto CCPA's types:
    - "know / access": the self-service data exports (DataExport); an export that was
      built is complied with; nobody is refused one, so none is denied.
    - "delete" = deletion, "correct" = rectification.
    - "opt out of sale/sharing": withdrawals of consent to a sharing purpose (the
      "Do Not Sell or Share" switch and Global Privacy Control). Our objections are
      GDPR Art. 21 objections to direct marketing (they switch marketing off, not
      sharing), so they are not counted as opt-outs: they, and restrictions, get rows
      of their own, marked as having no CCPA category.
    - "limit the use of sensitive personal information": we take no such requests.

    A request counts in the year it was received. "Complied with in whole or in part"
    is status completed (a partial approval also ends completed); "denied" is status
    denied; the days to respond run from receipt to completion or to the refusal.
    Requests from everyone are counted, not only from California residents."""
    start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
    rows = {**_request_rows(start, end), "know": _know_row(start, end), "opt_out": _opt_out_row(start, end)}
    return CcpaYear(year, [rows.get(key) or CcpaRow(CCPA_LABELS[key], 0, 0, 0, None, CCPA_NOTES.get(key, ""))
                           for key in CCPA_ORDER])


def _request_rows(start: datetime, end: datetime) -> dict[str, CcpaRow]:
    """One query: per kind, its requests grouped by days to respond (NULL for those
    not answered yet), which gives both the counts and each kind's histogram.

    A UNION ALL of one branch per kind, each a range of the (kind, received_at, …)
    index: four small sorts for the GROUP BY are much cheaper on SQLite than one big
    sort keyed by kind and days."""
    days = Case(PR.status, [(COMPLETED, _days_between(PR.received_at, PR.completed_at)),
                            (DENIED, _days_between(PR.received_at, PR.decided_at))], None)
    branches = [PR.select(Value(kind.value), days.alias("days"), fn.COUNT(SQL("*")),
                          _count_if(PR.status == COMPLETED), _count_if(PR.status == DENIED))
                .where(PR.kind == kind.value, PR.received_at >= start, PR.received_at < end)
                .group_by(SQL("days"))  # by name: the CASE is computed once a row
                for kind in RequestKind]
    by_kind = defaultdict(list)
    for kind, *rest in reduce(operator.add, branches).tuples():  # + is UNION ALL
        by_kind[kind].append(rest)
    return {kind: _row(CCPA_LABELS[kind], groups) for kind, groups in by_kind.items()}


def _know_row(start: datetime, end: datetime) -> CcpaRow:
    """Exports asked for in the year, by days from asking to the archive being ready."""
    ready = DataExport.ready_at.is_null(False)
    days = Case(None, [(ready, _days_between(Job.created_at, DataExport.ready_at))], None)
    query = (DataExport.select(days, fn.COUNT(SQL("*")), _count_if(ready), SQL("0"))
             .join(Job, on=(DataExport.job == Job.id))
             .where(Job.kind == EXPORT_JOB_KIND, Job.created_at >= start, Job.created_at < end)
             .group_by(days).tuples())
    return _row(CCPA_LABELS["know"], list(query), CCPA_NOTES["know"])


def _row(label: str, groups, note: str = "") -> CcpaRow:
    """A row from (days to respond or None, count, complied, denied) groups."""
    received = sum(g[1] for g in groups)
    complied = sum(int(g[2] or 0) for g in groups)
    denied = sum(int(g[3] or 0) for g in groups)
    histogram = {int(days): count for days, count, *_ in groups if days is not None}
    return CcpaRow(label, received, complied, denied, median_of(histogram), note)


def _opt_out_row(start: datetime, end: datetime) -> CcpaRow:
    sharing = Purpose.select(Purpose.id).where(Purpose.kind == PurposeKind.SHARING.value)
    count = (ConsentEvent.select(fn.COUNT(SQL("*")))
             .where(ConsentEvent.granted == False, ConsentEvent.occurred_at >= start,  # noqa: E712
                    ConsentEvent.occurred_at < end, ConsentEvent.purpose.in_(sharing)).scalar())
    return CcpaRow(CCPA_LABELS["opt_out"], count, count, 0, 0.0 if count else None, CCPA_NOTES["opt_out"])


CSV_HEADER = ("Year", "Request type", "Received", "Complied with in whole or in part", "Denied",
              "Median days to respond", "Note")


def ccpa_csv(metrics: CcpaYear) -> str:
    """The year's metrics as CSV, one row per request type; an empty median means
    nothing was answered."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in metrics.rows:
        median = "" if row.median_days is None else f"{row.median_days:g}"
        writer.writerow((metrics.year, row.request_type, row.received, row.complied, row.denied, median, row.note))
    return out.getvalue()


# --- years -------------------------------------------------------------------------

def default_year(now: datetime | None = None) -> int:
    """The disclosure covers the previous calendar year."""
    return (now or utcnow()).year - 1


def parse_year(raw: str | None, now: datetime | None = None) -> int:
    """A year from a query string; none given means the default one."""
    latest = (now or utcnow()).year
    if raw is None or raw == "":
        return default_year(now)
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4 and FIRST_YEAR <= int(raw) <= latest):
        raise ServiceError(f"There are no metrics for the year “{raw[:20]}”. "
                           f"Choose a year from {FIRST_YEAR} to {latest}, written as four digits.", 400)
    return int(raw)


def years_on_record(now: datetime | None = None) -> list[int]:
    """From the year of the first request (the start of the received_at index) to now,
    newest first."""
    latest = (now or utcnow()).year
    first = PR.select(PR.received_at).order_by(PR.received_at).limit(1).scalar()
    first_year = max(FIRST_YEAR, min(latest - 1, first.year if first else latest))
    return list(range(latest, first_year - 1, -1))


# --- SQL helpers, identical answers on both backends --------------------------------

def _days_between(start, end):
    """Calendar days from start's date to end's date, as an exact integer."""
    if is_postgres():
        return end.cast("date") - start.cast("date")  # date - date is an integer there
    # Whole days since 1970 in integer arithmetic: exact, and several times cheaper
    # than date() / julianday(), which parse text twice (unixepoch: SQLite >= 3.38).
    return day_number(end) - day_number(start)


def _count_if(condition):
    return fn.SUM(Case(None, [(condition, 1)], 0))
