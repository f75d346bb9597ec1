"""The consent API other systems ask, and the admin pages behind it."""
import re

from app.db import database
from app.models import ApiKey, ConsentSource, Purpose, Role
from app.services.accounts.api_keys import create_api_key
from app.services.consent import ledger
from tests.conftest import TEST_PASSWORD
from tests.support.forms import post_form


def new_key(make_user):
    with database.connection_context():
        return create_api_key("Newsletter sender", make_user(Role.ADMIN))[1]


def ask(client, key, email):
    return client.get("/api/v1/consent", query_string={"email": email},
                      headers={"Authorization": f"Bearer {key}"} if key else {})


def test_a_key_gets_the_persons_current_state_per_purpose(client, make_user):
    key = new_key(make_user)
    person = make_user(Role.SUBJECT, email="Reader@Example.com")
    with database.connection_context():
        ledger.set_consent(person, Purpose.get(Purpose.key == "click_tracking"), True,
                            ledger.Origin(ConsentSource.PORTAL))
    response = ask(client, key, "READER@example.com")
    assert response.status_code == 200
    purposes = response.json["purposes"]
    assert purposes["click_tracking"]["granted"] is True and purposes["click_tracking"]["source"] == "portal"
    assert purposes["click_tracking"]["last_changed_at"].endswith("Z")
    assert purposes["open_tracking"] == {"granted": False, "locked": False, "needs_reconfirmation": False,
                                         "notice_version": 1, "last_changed_at": None, "source": "default",
                                         "parental_consent_required": False, "objected": False}
    assert response.json["restricted"] is False
    assert purposes["billing"]["locked"] is True


def test_no_key_a_wrong_key_or_a_revoked_key_is_refused(client, make_user):
    key = new_key(make_user)
    make_user(Role.SUBJECT, email="r@example.com")
    assert ask(client, None, "r@example.com").status_code == 401
    assert ask(client, key + "x", "r@example.com").status_code == 401
    with database.connection_context():
        ApiKey.update(revoked_at=ApiKey.created_at).execute()
    refused = ask(client, key, "r@example.com")
    assert refused.status_code == 401 and "Bearer" in refused.json["detail"]


def test_an_unknown_address_is_404_in_json(client, make_user):
    key = new_key(make_user)
    response = ask(client, key, "nobody@example.com")
    assert response.status_code == 404 and response.json["status"] == 404


def test_keys_are_stored_hashed(make_user):
    key = new_key(make_user)
    with database.connection_context():
        stored = ApiKey.get()
    assert key not in (stored.key_hash, stored.prefix) and key.startswith(stored.prefix)


def test_the_openapi_document_describes_the_endpoint(client):
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    operation = doc["paths"]["/api/v1/consent"]["get"]
    assert set(operation["responses"]) == {"200", "400", "401", "404"}
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(client, login_as, make_user):
    login_as(Role.ADMIN)
    created = post_form(client, "/admin/api-keys", {"name": "CRM mailer"})
    assert created.status_code == 201
    raw = re.search(r"(pcc_[\w-]+)", created.text).group(1)
    make_user(Role.SUBJECT, email="p@example.com")
    assert ask(client, raw, "p@example.com").status_code == 200
    listing = client.get("/admin/api-keys").text
    assert raw not in listing and raw[:10] in listing  # shown once, then only its prefix
    with database.connection_context():
        key_id = ApiKey.get().id
    post_form(client, f"/admin/api-keys/{key_id}/revoke", token_from="/admin/api-keys")
    assert ask(client, raw, "p@example.com").status_code == 401


def test_an_admin_publishes_a_material_notice_change(client, login_as):
    login_as(Role.ADMIN)
    form = {"name": "Email click-through tracking", "description": "Now also measures reading time.",
            "material": "y"}
    response = post_form(client, "/admin/purposes/click_tracking", form)
    assert response.status_code == 303
    assert "notice version 2 published" in client.get("/admin/purposes").text


def test_an_admin_cannot_pre_tick_a_consent_purpose(client, login_as):
    login_as(Role.ADMIN)
    form = {"name": "Marketing email", "description": "My carefully written notice", "default_granted": "y"}
    response = post_form(client, "/admin/purposes/marketing_email", form)
    assert response.status_code == 400 and "no pre-ticked boxes" in response.text
    assert "My carefully written notice" in response.text  # nothing typed is lost


def test_a_suppressed_address_is_refused_everything_not_unknown(app, client, make_user):
    from app.services.consent.suppression import suppress
    key = new_key(make_user)
    with app.app_context(), database.connection_context():
        suppress("Gone@Example.com", "erasure")
    response = ask(client, key, "gone@example.com")
    assert response.status_code == 200 and response.json["suppressed"] is True
    assert not any(p["granted"] for p in response.json["purposes"].values())


def test_after_stop_all_marketing_essential_purposes_stay_granted_and_marketing_is_refused(client, make_user):
    """Other systems must still send security alerts and invoices to someone who stopped
    all marketing: suppression never touches the essential purposes."""
    key = new_key(make_user)
    person = make_user(Role.SUBJECT, email="quiet@example.com")
    post_form(client, "/login", {"email": person.email, "password": TEST_PASSWORD})
    assert post_form(client, "/preferences/stop-marketing", token_from="/preferences").status_code == 303
    answer = ask(client, key, "quiet@example.com").json
    assert answer["suppressed"] is True and answer["erased"] is False
    purposes = answer["purposes"]
    assert all(purposes[k]["granted"] for k in ("security_alerts", "account_notices", "billing"))
    assert not any(purposes[k]["granted"] for k in ("marketing_email", "sms_marketing", "push_notifications",
                                                      "click_tracking", "open_tracking"))


def test_an_erased_address_is_refused_even_essential_mail(app, client, make_user):
    from app.services.consent.suppression import suppress
    key = new_key(make_user)
    with app.app_context(), database.connection_context():
        suppress("was@example.com", "unsubscribed")
        suppress("was@example.com", "erasure")  # erased later: the stronger reason wins
    answer = ask(client, key, "was@example.com").json
    assert answer["erased"] is True
    assert not any(p["granted"] for p in answer["purposes"].values())
