"""Subscriber CSV import: the dry run shows exactly what the import then does, rejected
rows are reported by line, suppressed and unsubscribed people are never subscribed,
bad files change nothing, a killed import resumes without doing a row twice, and
double opt-in imports ask each person to confirm."""
import csv
import io
import json
import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.models import (
    AuditEvent,
    ConsentEvent,
    ConsentState,
    ImportEvidence,
    Job,
    PendingSubscription,
    Role,
    SubscriberImport,
    User,
)
from app.models.base import utcnow
from app.models.consent import ConsentSource
from app.services.consent import ledger
from app.services.consent.suppression import address_hash, is_suppressed, suppress
from app.services.newsletters import catalogue, subscriber_import
from app.services.platform import jobs
from app.services.platform.errors import ServiceError
from tests.support.forms import csrf_token, post_form
from tests.support.smtp import text_of

DESCRIPTION = "A short email each month about what is new in the CRM."
# Every outcome, with the line each row is on (line 1 is the header; line 7 is blank).
MIXED = [
    "email,consent_evidence,name",
    "new.person@example.com,Signed up at the fair 3 May,New Person",        # 2 import, new person
    "Known.Person@Example.com,Webinar form 2025-04-01,",                   # 3 import, known person
    "not-an-email,Fair,",                                                  # 4 bad syntax
    "bad@exa_mple.com,Fair,",                                              # 5 bad domain label
    "tld@example.c0m,Fair,",                                               # 6 bad top-level domain
    "",                                                                    # 7 blank: ignored
    "no.evidence@example.com,,",                                           # 8 no evidence
    "new.person@example.com,Again at the stand,",                          # 9 duplicate of line 2
    "ragged@example.com,Fair",                                             # 10 ragged
    "suppressed@example.com,Fair,",                                        # 11 suppressed
    "gone@example.com,Fair,",                                              # 12 unsubscribed before
    "already@example.com,Fair,",                                           # 13 already subscribed
    ",Fair,",                                                              # 14 no email
    "@SUM(1+1),Fair,",                                                     # 15 bad syntax, formula-like
]
EXPECTED_REJECTED = [
    [4, "not a valid email address"],
    [5, "the domain “exa_mple.com” is not valid"],
    [6, "the domain “example.c0m” does not end in a valid top-level domain"],
    [8, "no consent evidence"],
    [9, "duplicate of line 2"],
    [10, "ragged row: 2 fields, the header has 3"],
    [14, "no email address"],
    [15, "not a valid email address (the part before the @)"],
]
EXPECTED_COUNTS = {"rows": 13, "import": 2, "new_people": 1, "rejected": 8, "suppressed": 1, "unsubscribed": 1,
                   "subscribed": 1, "pending": 0, "closed": 0, "child": 0}


def csv_bytes(lines) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def make_newsletter(staff, double_opt_in=False):
    return catalogue.create_newsletter("Product updates", DESCRIPTION, "Product", double_opt_in, staff)


def upload(newsletter, data: bytes, staff, **kw):
    return subscriber_import.receive_upload(newsletter, io.BytesIO(data), "subscribers.csv", staff, **kw)


def planned(newsletter, data, staff):
    imp = upload(newsletter, data, staff)
    mapping = imp.mapping_dict()
    preview = subscriber_import.plan_import(imp, mapping["email"], mapping["evidence"], mapping["name"])
    return subscriber_import.get_import(imp.id), preview


def run_import(imp, staff) -> SubscriberImport:
    subscriber_import.start_import(imp, staff)
    jobs.run_pending()
    return subscriber_import.get_import(imp.id)


def the_people_of_the_mixed_file(newsletter):
    suppress("Suppressed@Example.com", "unsubscribed")
    gone, already = (User.create(email=e, role="subject") for e in ("gone@example.com", "already@example.com"))
    User.create(email="known.person@example.com", role="subject", name="Kept Name")
    origin = ledger.Origin(ConsentSource.PORTAL)
    ledger.set_consent(gone, newsletter.purpose, True, origin)
    ledger.set_consent(gone, newsletter.purpose, False, origin)
    ledger.set_consent(already, newsletter.purpose, True, origin)


def subscribed_emails(newsletter) -> set[str]:
    return {e for (e,) in User.select(User.email).join(ConsentState).where(
        ConsentState.purpose == newsletter.purpose_id, ConsentState.granted).tuples()}


def report_rows(imp) -> list[list]:
    with open(subscriber_import.report_path(imp), newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_the_dry_run_and_the_import_agree_row_for_row(db, make_user):
    staff = make_user(Role.SALES_OPS)
    newsletter = make_newsletter(staff)
    the_people_of_the_mixed_file(newsletter)
    imp, preview = planned(newsletter, csv_bytes(MIXED), staff)
    assert preview["counts"] == EXPECTED_COUNTS
    assert [[line, reason] for line, reason, _ in preview["rejected"]] == EXPECTED_REJECTED
    assert not ConsentEvent.select().where(ConsentEvent.source == "import").exists()  # the dry run changed nothing
    assert not User.select().where(User.email == "new.person@example.com").exists()

    done = run_import(imp, staff)
    assert done.status == "done" and done.counts_dict() == preview["counts"]
    header, *rows = report_rows(done)
    assert header == ["line", "reason", "email"]
    assert [[int(line), reason] for line, reason, _ in rows] == EXPECTED_REJECTED
    assert rows[-1][2] == "'@SUM(1+1)"  # a spreadsheet will not run it as a formula
    assert subscribed_emails(newsletter) == {"new.person@example.com", "known.person@example.com",
                                             "already@example.com"}
    assert User.get(User.email == "new.person@example.com").name == "New Person"
    assert User.get(User.email == "known.person@example.com").name == "Kept Name"  # an import never overwrites
    events = list(ConsentEvent.select().where(ConsentEvent.source == "import"))
    assert len(events) == 2 and all(e.granted and e.notice_version == 1 and e.actor_id == staff.id for e in events)
    assert all(isinstance(e.occurred_at, datetime) for e in events)  # written in bulk, read back as peewee writes
    evidence = {e.consent_event.user.email: (e.line, e.evidence) for e in ImportEvidence.select()}
    assert evidence == {"new.person@example.com": (2, "Signed up at the fair 3 May"),
                        "known.person@example.com": (3, "Webinar form 2025-04-01")}
    for state in ConsentState.select().where(ConsentState.source == "import"):  # each state is its own event
        assert state.last_event.user_id == state.user_id and state.last_event.source == "import"
    assert AuditEvent.select().where(AuditEvent.action == "newsletter.imported").count() == 1
    assert not Path(subscriber_import.imports_dir() / done.stored_name).exists()  # the upload is not kept


def test_a_suppressed_address_is_never_subscribed_even_if_suppressed_after_the_preview(db, make_user):
    staff = make_user(Role.SALES_OPS)
    newsletter = make_newsletter(staff)
    imp, preview = planned(newsletter, csv_bytes(["email,consent", "late@example.com,Fair",
                                                  "fine@example.com,Fair"]), staff)
    assert preview["counts"]["import"] == 2
    suppress("late@example.com", "unsubscribed")
    done = run_import(imp, staff)
    assert done.counts_dict()["suppressed"] == 1 and done.counts_dict()["import"] == 1
    assert subscribed_emails(newsletter) == {"fine@example.com"}
    assert not User.select().where(User.email == "late@example.com").exists() and is_suppressed("late@example.com")


def test_the_suppression_check_uses_the_suppression_lists_own_hash(db):
    assert subscriber_import._hasher()("someone@example.com") == address_hash(" Someone@Example.com ")


@pytest.mark.parametrize("data, message", [
    ("email,consent\ncafé@example.com,Foire\n".encode("latin-1"), "not UTF-8 text"),
    (b"", "The file is empty"),
    (b"\xef\xbb\xbf\n", "The file is empty"),
    (b"someone@example.com,Fair\nother@example.com,Fair\n", "header is missing"),
    (b"email,Email\nx@example.com,y@example.com\n", "names the column “Email” twice"),
    (b"email,,consent\n", "has no name"),
    (b"email,consent\n", "no rows of subscribers"),
    (b"email,consent\n\"a@example.com,unterminated\n", "not valid CSV"),
], ids=["latin-1", "empty", "bom-only", "no-header", "duplicate-header", "unnamed-column", "header-only",
        "unterminated-quote"])
def test_a_malformed_file_is_refused_clearly_and_nothing_is_kept(db, make_user, data, message):
    staff = make_user(Role.SALES_OPS)
    newsletter = make_newsletter(staff)
    with pytest.raises(ServiceError, match=message):
        upload(newsletter, data, staff)
    assert not SubscriberImport.select().exists()
    assert list(subscriber_import.imports_dir().iterdir()) == []


def test_a_file_over_the_limit_is_refused(db, make_user):
    staff = make_user(Role.SALES_OPS)
    newsletter = make_newsletter(staff)
    with pytest.raises(ServiceError, match="larger than 1 MB") as refused:
        upload(newsletter, csv_bytes(["email,consent"] + [f"p{i}@example.com,Fair" for i in range(60_000)]), staff,
               max_bytes=2**20)
    assert refused.value.status == 413
    assert not SubscriberImport.select().exists() and list(subscriber_import.imports_dir().iterdir()) == []


def test_a_utf8_file_with_a_bom_and_quoted_fields_is_read(db, make_user):
    staff = make_user(Role.SALES_OPS)
    newsletter = make_newsletter(staff)
    data = "\ufeffE-mail,Name,Consent evidence\n\"zoë@bücher.example\",\"Zoë, B.\",\"Form, 1 May\"\n".encode()
    imp, preview = planned(newsletter, data, staff)
    assert imp.header_list() == ["E-mail", "Name", "Consent evidence"]
    assert imp.mapping_dict() == {"email": 0, "evidence": 2, "name": 1, "birth": None}
    assert preview["counts"]["rejected"] == 1  # a non-ASCII local part is refused; the domain alone would pass
    assert subscriber_import.email_problem("zoe@bücher.example") is None


def test_a_killed_import_resumes_where_it_stopped_and_does_each_row_once(db, make_user, monkeypatch):
    staff = make_user(Role.SALES_OPS)
    newsletter = make_newsletter(staff)
    lines = ["email,consent"]
    for i in range(12):  # chunks of 4 rows: each holds one rejected row
        lines.append(f"bad{i}@@example.com,Fair" if i % 4 == 3 else f"p{i}@example.com,Fair")
    monkeypatch.setattr(subscriber_import, "CHUNK", 4)
    imp, preview = planned(newsletter, csv_bytes(lines), staff)
    assert preview["counts"]["import"] == 9 and preview["counts"]["rejected"] == 3

    real_append, calls = subscriber_import._append_rejections, []

    def killed_in_the_second_chunk(report, rows):
        written = real_append(report, rows)  # its rejected row reaches the report file...
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")   # ...but the chunk is never committed
        return written
    monkeypatch.setattr(subscriber_import, "_append_rejections", killed_in_the_second_chunk)
    subscriber_import.start_import(imp, staff)
    jobs.run_pending()
    stopped = subscriber_import.get_import(imp.id)
    assert Job.get_by_id(stopped.job_id).status == "failed"
    assert stopped.next_line == 6 and stopped.counts_dict()["import"] == 3
    assert ConsentEvent.select().where(ConsentEvent.source == "import").count() == 3  # the second chunk rolled back

    monkeypatch.setattr(subscriber_import, "_append_rejections", real_append)
    Job.update(finished_at=utcnow() - timedelta(hours=1)).where(Job.id == stopped.job_id).execute()  # retry due
    jobs.run_pending()
    done = subscriber_import.get_import(imp.id)
    assert done.status == "done" and done.counts_dict() == preview["counts"]
    assert ConsentEvent.select().where(ConsentEvent.source == "import").count() == 9
    assert len(subscribed_emails(newsletter)) == 9
    assert [int(r[0]) for r in report_rows(done)[1:]] == [5, 9, 13]  # each rejected line once


def test_a_resumed_import_still_finds_duplicates_of_rows_done_before_the_kill(db, make_user, monkeypatch):
    staff = make_user(Role.SALES_OPS)
    newsletter = make_newsletter(staff)
    monkeypatch.setattr(subscriber_import, "CHUNK", 2)
    data = csv_bytes(["email,consent", "a@example.com,x", "b@example.com,x", "c@example.com,x", "a@example.com,x"])
    imp, preview = planned(newsletter, data, staff)
    SubscriberImport.update(next_line=4).where(SubscriberImport.id == imp.id).execute()  # as if lines 2-3 were done
    done = run_import(subscriber_import.get_import(imp.id), staff)
    assert report_rows(done)[1][:2] == ["5", "duplicate of line 2"]


def test_a_double_opt_in_import_asks_each_person_to_confirm(app, db, make_user, smtp):
    staff = make_user(Role.SALES_OPS)
    newsletter = make_newsletter(staff, double_opt_in=True)
    suppress("suppressed@example.com", "unsubscribed")
    smtp.clear()
    smtp.refuse("bounce@example.com")
    imp, preview = planned(newsletter, csv_bytes([
        "email,consent_evidence", "one@example.com,Fair 3 May", "two@example.com,Webinar",
        "bounce@example.com,Fair", "suppressed@example.com,Fair"]), staff)
    assert preview["counts"]["import"] == 3 and preview["counts"]["suppressed"] == 1
    done = run_import(imp, staff)
    assert done.counts_dict()["import"] == 3 and done.counts_dict()["emails_not_sent"] == 1
    pending = {p.user.email: (p.source, p.evidence) for p in PendingSubscription.select()}
    assert pending == {"one@example.com": ("import", "Fair 3 May"), "two@example.com": ("import", "Webinar"),
                       "bounce@example.com": ("import", "Fair")}  # a refused email loses nothing
    assert not ConsentEvent.select().where(ConsentEvent.purpose == newsletter.purpose_id).exists()
    assert "/newsletters/confirm/" in text_of(smtp.wait_for("one@example.com"))
    smtp.wait_for("two@example.com")
    assert not [m for m in smtp.messages if "suppressed" in m["To"]]
    again, _ = planned(newsletter, csv_bytes(["email,consent", "one@example.com,Fair"]), staff)
    assert again.preview_dict()["counts"]["pending"] == 1  # already asked: not emailed twice


def test_sales_upload_check_import_and_download_the_report(app, client, login_as, job_worker):
    staff = login_as(Role.SALES_OPS)
    with app.app_context():
        from app.db import database
        with database.connection_context():
            newsletter = make_newsletter(staff)
    detail = client.get(f"/sales/newsletters/{newsletter.id}").text
    assert "Import a CSV" in detail
    form = client.get(f"/sales/newsletters/{newsletter.id}/import").text
    assert 'type="file"' in form and "20 MB" in form and 'for="file"' in form
    token = csrf_token(client, f"/sales/newsletters/{newsletter.id}/import")
    data = csv_bytes(["email,consent,name", "ann@example.com,Fair,Ann", "broken,Fair,X"])
    uploaded = client.post(f"/sales/newsletters/{newsletter.id}/import", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(data), "people.csv")})
    assert uploaded.status_code == 303
    preview_url = uploaded.headers["Location"]
    page = client.get(preview_url).text
    assert "Check every row" in page and '<option selected value="0">' in page  # the guessed email column
    checked = post_form(client, preview_url, {"email": "0", "evidence": "1", "name": "2"})
    assert checked.status_code == 303
    page = client.get(preview_url).text
    assert "Import 1 person" in page and "not a valid email address" in page and ">3<" in page
    import_id = int(preview_url.rstrip("/").split("/")[-1])
    started = post_form(client, f"/sales/imports/{import_id}/start", token_from=preview_url)
    assert started.status_code == 303
    for _ in range(100):
        fragment = client.get(f"/sales/imports/{import_id}/progress", headers={"HX-Request": "true"}).text
        if "Import finished" in fragment:
            break
        assert "<progress" in fragment
        time.sleep(0.1)
    assert "<html" not in fragment and "Import finished" in fragment
    with client.get(f"/sales/imports/{import_id}/rejected.csv") as report:
        assert report.status_code == 200 and report.headers["Cache-Control"] == "no-store"
        assert report.text.splitlines()[1] == "3,not a valid email address,broken"


def test_a_bad_upload_is_shown_on_the_form(app, client, login_as):
    staff = login_as(Role.SALES_OPS)
    with app.app_context():
        from app.db import database
        with database.connection_context():
            newsletter = make_newsletter(staff)
    url = f"/sales/newsletters/{newsletter.id}/import"
    refused = client.post(url, content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, url), "file": (io.BytesIO("email\né".encode("latin-1")), "x.csv")})
    assert refused.status_code == 400 and "not UTF-8 text" in refused.text and 'aria-invalid="true"' in refused.text


@pytest.mark.parametrize("role", [Role.SUBJECT, Role.DPO, Role.CUSTOMER_ADMIN])
def test_only_sales_ops_reach_imports(app, client, login_as, make_user, role):
    staff = make_user(Role.SALES_OPS)
    with app.app_context():
        from app.db import database
        with database.connection_context():
            newsletter = make_newsletter(staff)
            imp = upload(newsletter, csv_bytes(["email,consent", "a@example.com,x"]), staff)
    login_as(role)
    for url in (f"/sales/newsletters/{newsletter.id}/import", f"/sales/imports/{imp.id}",
                f"/sales/imports/{imp.id}/progress", f"/sales/imports/{imp.id}/rejected.csv"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/sales/imports/{imp.id}/start").status_code in (400, 403)
    with app.app_context():
        from app.db import database
        with database.connection_context():
            assert SubscriberImport.get_by_id(imp.id).status == "uploaded" and not Job.select().exists()
    assert json.loads(imp.mapping) == {"email": 0, "evidence": 1, "name": None, "birth": None}


def test_starting_twice_queues_one_job_and_an_unchecked_import_cannot_start(db, make_user):
    staff = make_user(Role.SALES_OPS)
    newsletter = make_newsletter(staff)
    unchecked = upload(newsletter, csv_bytes(["email,consent", "a@example.com,x"]), staff)
    with pytest.raises(ServiceError, match="check the preview first"):
        subscriber_import.start_import(unchecked, staff)
    imp, _ = planned(newsletter, csv_bytes(["email,consent", "b@example.com,x"]), staff)
    first, second = subscriber_import.start_import(imp, staff), subscriber_import.start_import(imp, staff)
    assert first.job_id == second.job_id and Job.select().count() == 1
    with pytest.raises(ServiceError, match="can no longer be changed"):
        subscriber_import.plan_import(second, 0, 1, None)


def test_the_import_journey_in_a_browser_is_accessible(app, page, live_server, make_user, job_worker, tmp_path):
    from playwright.sync_api import expect

    from tests.conftest import TEST_PASSWORD
    from tests.support.browser import assert_accessible, sign_in

    staff = make_user(Role.SALES_OPS)
    with app.app_context():
        from app.db import database
        with database.connection_context():
            newsletter = make_newsletter(staff)
    sign_in(page, staff.email, TEST_PASSWORD)
    page.goto(f"/sales/newsletters/{newsletter.id}")
    page.get_by_role("link", name="Import a CSV").click()
    assert_accessible(page)
    file = tmp_path / "people.csv"
    file.write_bytes(csv_bytes(["email,consent evidence,name", "ann@example.com,Fair,Ann", "nope,Fair,"]))
    page.get_by_label("CSV file", exact=True).set_input_files(str(file))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_label("Email address column")).to_have_value("0")
    assert_accessible(page)
    page.get_by_role("button", name="Check every row").click()
    expect(page.get_by_role("cell", name="not a valid email address")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Import 1 person").click()
    expect(page.get_by_text("Import finished")).to_be_visible()  # polled in by htmx
    assert_accessible(page)
    expect(page.get_by_role("link", name=re.compile("Download the 1 rejected rows"))).to_be_visible()
