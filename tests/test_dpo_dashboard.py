"""The DPO dashboard: its figures, its charts, the CCPA metrics and their CSV."""
import csv
import io
import re
from datetime import datetime, timedelta

import pytest

from app.models import ConsentEvent, DataExport, Job, PrivacyRequest, Purpose, Role
from app.models.base import utcnow
from app.services.platform.weekly import week_starts
from app.services.rights import dpo_metrics
from app.services.rights.dpo_metrics import median_of
from tests.conftest import TEST_PASSWORD, TEST_TOTP_SECRET
from tests.support.browser import assert_accessible, htmx_exchange, sign_in

NOW = datetime(2025, 6, 18, 12, 0)  # a Wednesday; its week began on Monday 16 June
YEAR = 2023


@pytest.fixture
def person(make_user):
    return make_user(Role.SUBJECT, email="subject@example.com")


@pytest.fixture
def filed(db, person):
    """A request with the given dates; due a month after receipt unless told."""
    def make(kind="deletion", status="pending_review", received_at=NOW, due_at=None, **dates):
        return PrivacyRequest.create(user=person, kind=kind, status=status, received_at=received_at,
                                     due_at=due_at or received_at + timedelta(days=30), jurisdiction="GDPR", **dates)
    return make


@pytest.fixture
def consent_event(db, person):
    def make(purpose_key, granted, occurred_at):
        purpose = Purpose.get(Purpose.key == purpose_key)
        return ConsentEvent.create(user=person, purpose=purpose, granted=granted, notice_version=1,
                                   occurred_at=occurred_at, source="portal", actor_label="subject@example.com")
    return make


def closed(filed, kind, status, received_at, days):
    """A request answered `days` calendar days after it was received (at another hour)."""
    answered = received_at + timedelta(days=days, hours=3)
    if status == "completed":
        return filed(kind, status, received_at, completed_at=answered, decided_at=received_at)
    return filed(kind, status, received_at, decided_at=answered)


def test_open_requests_are_counted_by_kind_with_those_past_their_deadline(filed):
    filed("deletion", "pending_review", due_at=NOW - timedelta(days=1))   # overdue
    filed("deletion", "cooling_off", due_at=NOW + timedelta(days=3))
    filed("deletion", "awaiting_confirmation", due_at=NOW - timedelta(minutes=1))  # due today: late tomorrow
    filed("objection", "approved", due_at=NOW + timedelta(days=1))
    filed("rectification", "in_progress", due_at=NOW - timedelta(days=40))  # overdue
    filed("restriction", "completed", due_at=NOW - timedelta(days=90))  # closed: neither open nor overdue
    filed("restriction", "denied", due_at=NOW - timedelta(days=90))
    filed("deletion", "cancelled", due_at=NOW - timedelta(days=90))
    counts = {k.kind: (k.open, k.overdue) for k in dpo_metrics.open_by_kind(NOW)}
    assert counts == {"deletion": (3, 1), "objection": (1, 0), "rectification": (1, 1), "restriction": (0, 0)}
    board = dpo_metrics.dashboard(NOW)
    assert (board.open_total, board.overdue_total) == (5, 2)


def test_the_median_time_to_close_covers_the_last_12_months_only(filed):
    recent = NOW - timedelta(days=60)
    closed(filed, "deletion", "completed", recent, 2)
    closed(filed, "rectification", "completed", recent, 4)
    closed(filed, "objection", "denied", recent, 3)
    closed(filed, "deletion", "denied", recent, 10)
    # Not closed in the window: each would pull the median away from 3.5 if counted.
    closed(filed, "deletion", "completed", NOW - timedelta(days=500), 100)  # closed 13+ months ago
    closed(filed, "deletion", "denied", NOW - timedelta(days=400), 1)       # refused 13 months ago
    filed("deletion", "approved", recent, decided_at=recent + timedelta(days=1))  # approved, not done
    filed("deletion", "cancelled", recent, completed_at=None)
    filed("restriction", "pending_review", recent)
    assert dpo_metrics.median_days_to_close(NOW) == (3.5, 4)  # (3 + 4) / 2: an even count
    closed(filed, "restriction", "completed", recent, 30)
    assert dpo_metrics.median_days_to_close(NOW) == (4, 5)


def test_days_are_calendar_days_from_receipt_to_answer(filed):
    received = datetime(2025, 5, 1, 23, 30)
    filed("deletion", "completed", received, completed_at=datetime(2025, 5, 2, 0, 15))  # 45 minutes, next day
    assert dpo_metrics.median_days_to_close(NOW) == (1, 1)


def test_the_queue_index_covers_exactly_the_open_requests():
    """PostgreSQL only uses the partial index when the queue's status list is its own."""
    from app.models.requests import QUEUE_STATUSES
    from app.services.rights.requests import OPEN
    assert QUEUE_STATUSES == OPEN


def test_median_of_a_histogram():
    assert median_of({}) is None
    assert median_of({7: 1}) == 7
    assert median_of({1: 2, 9: 2}) == 5
    assert median_of({0: 1, 2: 1, 5: 1, 40: 1}) == 3.5
    assert median_of({3: 5, 100: 1}) == 3


def test_weekly_buckets_start_on_monday_and_cover_12_weeks(filed, consent_event):
    mondays = week_starts(NOW)
    assert mondays[-1] == datetime(2025, 6, 16).date() and mondays[0] == datetime(2025, 3, 31).date()
    filed(received_at=datetime(2025, 6, 16, 0, 0, 0))       # this week's first second
    filed(received_at=datetime(2025, 6, 18, 11, 0))
    filed(received_at=datetime(2025, 6, 15, 23, 59, 59))    # the Sunday before: last week
    filed(received_at=datetime(2025, 3, 31, 0, 0))          # the first week's first second
    filed(received_at=datetime(2025, 3, 30, 23, 59, 59))    # before the 12 weeks: not shown
    weeks = dpo_metrics.requests_per_week(NOW)
    assert len(weeks) == 12 and [w.start for w in weeks] == mondays
    assert [w.count for w in weeks] == [1] + [0] * 9 + [1, 2]

    consent_event("marketing_email", False, datetime(2025, 6, 17, 9, 0))
    consent_event("partner_sharing", False, datetime(2025, 6, 17, 10, 0))
    consent_event("marketing_email", True, datetime(2025, 6, 17, 11, 0))   # a yes is not a withdrawal
    consent_event("marketing_email", False, datetime(2025, 5, 5, 8, 0))    # Monday 5 May: week 6
    consent_event("marketing_email", False, datetime(2025, 1, 5, 8, 0))    # too old
    assert [w.count for w in dpo_metrics.withdrawals_per_week(NOW)] == [0] * 5 + [1] + [0] * 5 + [2]


@pytest.fixture
def year_of_requests(filed, consent_event, person):
    """Requests, exports and opt-outs in 2023, and some just outside it."""
    jan, jun = datetime(YEAR, 1, 10), datetime(YEAR, 6, 1)
    closed(filed, "deletion", "completed", jan, 3)
    closed(filed, "deletion", "completed", jun, 7)
    closed(filed, "deletion", "denied", jun, 5)
    closed(filed, "deletion", "completed", datetime(YEAR, 12, 31, 23, 59, 59), 2)  # answered in 2024: counts
    filed("deletion", "pending_review", jun)                     # received, not answered
    filed("deletion", "cancelled", jun)                          # received, withdrawn
    closed(filed, "rectification", "completed", jun, 10)
    closed(filed, "objection", "completed", jun, 0)
    closed(filed, "restriction", "completed", datetime(YEAR - 1, 12, 31, 23, 59, 59), 1)  # 2022
    closed(filed, "restriction", "denied", datetime(YEAR + 1, 1, 1), 1)                   # 2024
    for asked, ready_after in ((jun, timedelta(hours=2)), (jan, timedelta(days=1, hours=1)), (jun, None),
                               (datetime(YEAR - 1, 6, 1), timedelta(hours=1))):
        job = Job.create(kind="export", user=person, created_at=asked)
        DataExport.create(user=person, job=job, ready_at=asked + ready_after if ready_after else None)
    consent_event("partner_sharing", False, datetime(YEAR, 3, 1))   # opt-outs of sharing
    consent_event("partner_sharing", False, datetime(YEAR, 9, 1))
    consent_event("partner_sharing", True, datetime(YEAR, 4, 1))    # a yes is no opt-out
    consent_event("marketing_email", False, datetime(YEAR, 4, 1))   # marketing is not sale/sharing
    consent_event("partner_sharing", False, datetime(YEAR + 1, 1, 1))


EXPECTED_CSV = [
    ["Year", "Request type", "Received", "Complied with in whole or in part", "Denied", "Median days to respond"],
    ["2023", "Know / access (self-service data exports)", "3", "2", "0", "0.5"],
    ["2023", "Delete", "6", "3", "1", "4"],  # answered in 2, 3, 5, 7 days
    ["2023", "Correct", "1", "1", "0", "10"],
    ["2023", "Opt out of sale/sharing (sharing consent withdrawn, including Global Privacy Control)", "2", "2", "0", "0"],
    ["2023", "Restrict processing (GDPR Art. 18; no CCPA category)", "0", "0", "0", ""],
    ["2023", "Object to direct marketing (GDPR Art. 21; no CCPA category)", "1", "1", "0", "0"],
]


def test_ccpa_metrics_count_the_requests_received_in_the_year(year_of_requests):
    rows = {r.request_type.split(" ")[0]: r for r in dpo_metrics.ccpa_metrics(YEAR).rows}
    assert (rows["Delete"].received, rows["Delete"].complied, rows["Delete"].denied) == (6, 3, 1)
    assert rows["Delete"].median_days == 4  # (3 + 5) / 2
    assert rows["Restrict"].received == 0 and rows["Restrict"].median_days is None
    assert (rows["Know"].received, rows["Know"].complied, rows["Know"].median_days) == (3, 2, 0.5)
    assert (rows["Opt"].received, rows["Opt"].denied) == (2, 0)
    assert dpo_metrics.years_on_record(NOW) == [2025, 2024, 2023, 2022]  # from the first request received


def test_the_years_to_choose_from_include_last_year_even_without_requests(db):
    assert dpo_metrics.years_on_record(NOW) == [2025, 2024]


def test_the_csv_has_the_year_s_metrics(client, login_as, year_of_requests):
    login_as(Role.DPO)
    response = client.get(f"/dpo/metrics.csv?year={YEAR}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f"attachment; filename=ccpa-metrics-{YEAR}.csv"
    table = list(csv.reader(io.StringIO(response.text)))
    assert [row[:6] for row in table] == EXPECTED_CSV
    assert table[0][6] == "Note" and "37 days" in table[1][6]
    other_year = list(csv.reader(io.StringIO(client.get(f"/dpo/metrics.csv?year={YEAR + 1}").text)))
    assert other_year[5][:3] == [str(YEAR + 1), "Restrict processing (GDPR Art. 18; no CCPA category)", "1"]


@pytest.mark.parametrize("year", ["abc", "1999", "20233", "23", str(utcnow().year + 1), "２０２３"])
def test_a_bad_year_is_refused_with_a_clear_message(client, login_as, year):
    login_as(Role.DPO)
    response = client.get("/dpo/metrics.csv", query_string={"year": year})
    assert response.status_code == 400
    assert "Choose a year from 2000 to" in response.text
    assert client.get("/dpo/", query_string={"year": year}).status_code == 400


def test_an_admin_may_download_the_csv(client, login_as):
    login_as(Role.ADMIN)
    response = client.get("/dpo/metrics.csv")  # no year: last year's, what the disclosure covers
    assert response.status_code == 200
    assert f"ccpa-metrics-{utcnow().year - 1}.csv" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("role", [Role.SALES_OPS, Role.SUBJECT, Role.CUSTOMER_ADMIN], ids=lambda r: r.value)
def test_other_roles_are_refused_the_dashboard_and_the_csv(client, login_as, role):
    login_as(role)
    assert client.get("/dpo/").status_code == 403
    assert client.get(f"/dpo/metrics.csv?year={YEAR}").status_code == 403


@pytest.fixture
def this_week(filed, consent_event):
    """Now-relative data for the page, which reads the real clock."""
    now = utcnow()
    filed("deletion", "pending_review", now - timedelta(days=40), due_at=now - timedelta(days=9))  # overdue
    filed("restriction", "pending_review", now, due_at=now + timedelta(days=30))
    filed("objection", "pending_review", now, due_at=now + timedelta(days=30))
    # Received at 09:00, answered 6 days and 3 hours later: never across a midnight, whenever the suite runs.
    closed(filed, "rectification", "completed", (now - timedelta(days=20)).replace(hour=9, minute=0), 6)
    consent_event("marketing_email", False, now)


def test_the_page_shows_the_figures_and_the_charts_with_their_text(client, login_as, this_week):
    login_as(Role.DPO)
    html = client.get("/dpo/").text
    assert re.search(r'<a href="/dpo/requests\?due=overdue">See the 1 overdue request</a>', html)
    assert "Past the legal deadline" in html  # said in words, not by colour alone
    assert '<p class="stat-number">3</p>' in html  # open
    assert "6 days" in html and "Over the 1 request completed or refused" in html
    charts = re.findall(r'<svg class="chart" role="img" aria-labelledby="([\w-]+)-title \1-desc"', html)
    assert charts == ["requests-chart", "withdrawals-chart"]
    assert re.search(r'<desc id="requests-chart-desc">4 requests in the last 12 weeks\..*This week so far: 2\.',
                     html, re.S)
    assert '<desc id="withdrawals-chart-desc">1 withdrawal in the last 12 weeks.' in html
    assert html.count('<rect class="bar"') >= 3  # one bar per week with requests
    assert "Requests received per week: the numbers" in html  # the same numbers as a table
    assert "Audit log" in html and "Verify the whole chain now" in html
    last_year = utcnow().year - 1
    assert f'href="/dpo/metrics.csv?year={last_year}"' in html
    # The yearly table comes in a request of its own, sent by htmx at once ...
    assert f'hx-get="/dpo/?year={last_year}" hx-trigger="load"' in html and "by type</caption>" not in html
    assert f'<a href="/dpo/?year={last_year}">Show the table for {last_year}</a>' in html  # ... or by this link


def test_without_javascript_a_chosen_year_shows_the_table_in_the_page(client, login_as, year_of_requests):
    login_as(Role.DPO)
    html = client.get(f"/dpo/?year={YEAR}").text
    assert "<html" in html and f"Requests received in {YEAR}, by type</caption>" in html
    assert 'hx-trigger="load"' not in html and 'class="chart"' in html


def test_choosing_a_year_swaps_only_the_ccpa_section(client, login_as, year_of_requests):
    login_as(Role.DPO)
    fragment = client.get(f"/dpo/?year={YEAR}", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and fragment.lstrip().startswith('<section class="card" id="ccpa"')
    assert f"Requests received in {YEAR}, by type</caption>" in fragment and 'hx-trigger="load"' not in fragment
    assert f'href="/dpo/metrics.csv?year={YEAR}"' in fragment
    assert '<option value="2023" selected>' in fragment


def test_verifying_the_chain_without_javascript_still_shows_the_dashboard(client, login_as):
    from tests.support.forms import post_form
    login_as(Role.DPO)
    response = post_form(client, "/dpo/audit/verify", token_from="/dpo/")
    assert "Chain intact" in response.text and 'class="chart"' in response.text


@pytest.mark.browser
def test_the_dpo_reads_the_dashboard_in_a_browser(page, live_server, make_user, this_week):
    dpo = make_user(Role.DPO)
    person = PrivacyRequest.select().first().user
    for weeks_ago in range(1, 12):  # a fuller chart to look at
        for _ in range(weeks_ago % 4 + 1):
            PrivacyRequest.create(user=person, kind="objection", status="completed", jurisdiction="GDPR",
                                  received_at=utcnow() - timedelta(weeks=weeks_ago),
                                  due_at=utcnow(), completed_at=utcnow() - timedelta(weeks=weeks_ago))
    sign_in(page, dpo.email, TEST_PASSWORD, TEST_TOTP_SECRET)
    page.get_by_role("heading", name="DPO console").wait_for()
    page.get_by_text(f"Requests received in {utcnow().year - 1}, by type").wait_for()  # fetched by htmx
    chart = page.get_by_role("img", name=re.compile(r"^Requests received per week .*requests in the last 12 weeks"))
    assert chart.is_visible()
    assert_accessible(page)

    page.set_viewport_size({"width": 375, "height": 740})
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    bar_colour = page.evaluate("getComputedStyle(document.querySelector('.chart .bar')).fill")
    assert bar_colour == "rgb(138, 180, 255)"  # the dark palette's accent
    assert_accessible(page)
    page.screenshot(path=str(_artifact("dpo-dashboard-dark-phone.png")), full_page=True)

    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1200, "height": 900})
    with htmx_exchange(page, f"/dpo/?year={utcnow().year}"):
        page.get_by_label("Year").select_option(str(utcnow().year))  # htmx swaps the CCPA section
    page.get_by_text(f"Requests received in {utcnow().year}, by type").wait_for()
    assert f"year={utcnow().year}" in page.url
    page.get_by_role("link", name="See the 1 overdue request").click()
    page.get_by_role("heading", name="Requests").wait_for()
    assert page.url.endswith("/dpo/requests?due=overdue")
    page.go_back()
    page.get_by_text(f"Requests received in {utcnow().year}, by type").wait_for()  # the year is in the address
    assert_accessible(page)  # left in light mode for the screenshot


def _artifact(name):
    from pathlib import Path
    folder = Path(__file__).resolve().parents[1] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder / name
