"""Sub-processor change notices: when the DPO adds or changes a sub-processor,
every customer admin with a signed DPA is emailed the change and the deadline to
object by; they object from /customer/notices (a reason required); the DPO sees the
objections; after the deadline, or on someone else's notice, objecting is refused."""
import json
from datetime import timedelta

from app.db import database
from app.models import AuditEvent, DpaDocument, Role, Subprocessor, SubprocessorVersion
from app.models.base import utcnow
from app.models.subprocessor_notices import SubprocessorNotice
from tests.conftest import TEST_PASSWORD
from tests.support.forms import post_form
from tests.support.smtp import text_of

MAILER = {"name": "Mailwise Ltd", "purpose": "Delivers the transactional emails.",
          "data_categories": ["Account"], "country": "US", "transfer_mechanism": "scc_module_3",
          "since": "2024-03-01", "reason": "New email provider after a tender."}


def with_dpa(app, make_user, status="countersigned", email=None, contact=None):
    admin = make_user(Role.CUSTOMER_ADMIN, email=email)
    with app.app_context(), database.connection_context():
        DpaDocument.create(customer_admin=admin, document_id=f"DPA-{admin.id:016x}", legal_name="Acme GmbH",
                           address="1 Main St", registration_number="HRB 1", signatory_name="Ann Acme",
                           signatory_title="CEO", contact_email=contact or admin.email, country="DE", governing_law="DE",
                           status=status)
    return admin


def signed_in(app, user):
    browser = app.test_client()
    response = post_form(browser, "/login", {"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 303, response.text
    return browser


def notices(app):
    with app.app_context(), database.connection_context():
        return list(SubprocessorNotice.select().order_by(SubprocessorNotice.id))


def add_mailer(client, login_as, **changes):
    login_as(Role.DPO)
    added = post_form(client, "/dpo/subprocessors/new", {**MAILER, **changes})
    assert added.status_code == 303, added.text


def test_customers_with_a_signed_dpa_are_notified_object_and_the_dpo_sees_it(app, client, login_as, make_user, smtp):
    acme = with_dpa(app, make_user, "countersigned")
    signer = with_dpa(app, make_user, "signed", contact="privacy@signer.example")
    unsigned = with_dpa(app, make_user, "generated")
    make_user(Role.CUSTOMER_ADMIN)  # no DPA at all

    add_mailer(client, login_as)
    smtp.wait_for("privacy@signer.example")  # the DPA's contact (Annex I), as clause 6.2 promises

    deadline = (utcnow().date() + timedelta(days=30)).strftime("%d %B %Y")
    for admin in (acme, signer):
        msg = smtp.wait_for(admin.email)
        body = text_of(msg)
        assert "Mailwise Ltd" in msg["Subject"]
        assert "Mailwise Ltd" in body and "Delivers the transactional emails." in body
        assert "United States" in body and "SCC module 3" in body
        assert deadline in body and "/customer/notices" in body
    assert {m["To"] for m in smtp.messages} == {acme.email, signer.email, "privacy@signer.example"}  # not the others
    assert unsigned.email not in {m["To"] for m in smtp.messages}
    assert {n.user_id for n in notices(app)} == {acme.id, signer.id}

    customer = signed_in(app, acme)
    page = customer.get("/customer/notices")
    assert page.status_code == 200 and "Mailwise Ltd" in page.text and deadline in page.text
    (notice,) = [n for n in notices(app) if n.user_id == acme.id]
    url = f"/customer/notices/{notice.id}/object"

    empty = post_form(customer, url, {"reason": "  "}, token_from="/customer/notices")
    assert empty.status_code == 400 and "Say why your company objects" in empty.text
    assert notices(app)[0].objected_at is None

    objected = post_form(customer, url, {"reason": "We cannot send data to the US."}, token_from="/customer/notices")
    assert objected.status_code == 303 and objected.headers["Location"] == "/customer/notices"
    assert "Your objection is recorded" in customer.get("/customer/notices").text

    dpo_page = client.get("/dpo/subprocessors/objections")
    assert dpo_page.status_code == 200
    assert "Mailwise Ltd" in dpo_page.text and "We cannot send data to the US." in dpo_page.text
    assert acme.email in dpo_page.text and signer.email not in dpo_page.text
    assert "<td>Acme GmbH</td>" in dpo_page.text  # the company that objects, from its signed DPA

    with app.app_context(), database.connection_context():
        (event,) = AuditEvent.select().where(AuditEvent.action == "subprocessor_notice.objected")
        assert json.loads(event.details) == {"notice_id": notice.id, "version_id": notice.version_id}

    again = post_form(customer, url, {"reason": "Twice."}, token_from="/customer/notices")
    assert again.status_code == 409


def test_a_change_notifies_again_and_notifying_is_idempotent(app, client, login_as, make_user, smtp):
    from app.services.agreements import subprocessor_notices
    acme = with_dpa(app, make_user)
    add_mailer(client, login_as)
    smtp.wait_for(acme.email)
    with app.app_context(), database.connection_context():
        row = Subprocessor.get()
    changed = post_form(client, f"/dpo/subprocessors/{row.id}", {**MAILER, "country": "IE",
                                                                 "transfer_mechanism": "none",
                                                                 "reason": "Moved to Dublin."})
    assert changed.status_code == 303
    assert len(notices(app)) == 2
    version_id = notices(app)[1].version_id
    with app.test_request_context(), database.connection_context():
        version = SubprocessorVersion.get_by_id(version_id)
        assert version.change == "changed"
        assert subprocessor_notices.notify_customers(version) == []  # already told
    assert len(notices(app)) == 2
    assert len([m for m in smtp.messages if m["To"] == acme.email]) == 2


def test_a_mail_failure_is_recorded_not_raised(app, client, login_as, make_user, smtp):
    acme = with_dpa(app, make_user)
    smtp.refuse(acme.email)
    add_mailer(client, login_as)  # the register change still succeeds
    (notice,) = notices(app)
    assert notice.mail_failed


def test_objecting_after_the_deadline_is_refused(app, client, login_as, make_user, smtp):
    acme = with_dpa(app, make_user)
    add_mailer(client, login_as)
    (notice,) = notices(app)
    with app.app_context(), database.connection_context():
        SubprocessorNotice.update(objection_deadline=utcnow().date() - timedelta(days=1)).execute()
    customer = signed_in(app, acme)
    page = customer.get("/customer/notices").text
    assert "The deadline to object has passed." in page
    late = post_form(customer, f"/customer/notices/{notice.id}/object", {"reason": "Too late?"},
                     token_from="/customer/notices")
    assert late.status_code == 409
    assert notices(app)[0].objected_at is None


def test_another_customer_gets_404_on_someone_elses_notice(app, client, login_as, make_user, smtp):
    acme = with_dpa(app, make_user)
    other = with_dpa(app, make_user)
    add_mailer(client, login_as)
    mine = [n for n in notices(app) if n.user_id == acme.id][0]
    intruder = signed_in(app, other)
    refused = post_form(intruder, f"/customer/notices/{mine.id}/object", {"reason": "Not mine."},
                        token_from="/customer/notices")
    assert refused.status_code == 404
    missing = post_form(intruder, "/customer/notices/999999/object", {"reason": "Nothing."},
                        token_from="/customer/notices")
    assert missing.status_code == 404
    assert all(n.objected_at is None for n in notices(app))
