"""The demo: seeded once, Alice has data in every category, the logins work."""
from pathlib import Path

import pytest

from app import create_app
from app.db import database
from app.models import REGISTRY, Role, UploadedFile, User
from app.services.accounts.auth import totp_for
from app.services.demo import DEMO_LOGINS, DEMO_PASSWORD, DEMO_TOTP_SECRET, seed_demo
from app.services.rights.personal_data import holdings_of
from tests.support.forms import post_form

HOMES = {Role.SUBJECT: "/portal/", Role.DPO: "/dpo/", Role.SALES_OPS: "/sales/", Role.ADMIN: "/admin/users",
         Role.CUSTOMER_ADMIN: "/customer/"}
NOT_SEEDED = {"Sign-in links", "Audit log", "Background jobs", "Data exports",  # written by using the app
              "API keys you created (staff)"}  # staff only: Alice is an end user
NOT_SEEDED |= {"Subscriber imports you ran (staff)", "Consent evidence from imports",  # written by importing a file
               "Newsletter issues you wrote (staff)"}  # staff only
NOT_SEEDED |= {"Retention policies you changed (staff)", "Retention sweeps you started (staff)"}  # staff only
NOT_SEEDED |= {"Connected integrations", "Accounts you sign in with"}  # need an OAuth client of a real provider
NOT_SEEDED |= {"Sub-processor register changes you made (staff)"}  # staff only
NOT_SEEDED |= {"Data Processing Addenda you requested (business customers)",  # business customers' admins only
               "Data Processing Addendum files (business customers)", "Data Processing Addendum signatures"}
NOT_SEEDED |= {"Sub-processor change notices (business customers)"}  # business customers' admins only
NOT_SEEDED |= {"Company data exports you requested (business customers)"}  # business customers' admins only


@pytest.fixture
def seeded(app):
    with app.app_context(), database.connection_context():
        assert seed_demo(Path(app.instance_path)) is True
    return app


def test_seeding_twice_changes_nothing(seeded):
    with seeded.app_context(), database.connection_context():
        before = User.select().count()
        assert seed_demo(Path(seeded.instance_path)) is False
        assert User.select().count() == before
        assert User.select().where(User.role == Role.SUBJECT.value).count() >= 50


def test_alice_has_data_in_every_category_an_end_user_can_have(seeded):
    with seeded.app_context(), database.connection_context():
        alice = User.by_email("alice@example.com")
        empty = [h.entry.category for h in holdings_of(alice) if h.rows == 0]
    assert set(empty) <= NOT_SEEDED
    assert len(REGISTRY) - len(empty) >= 13


def test_uploaded_files_exist_on_disk_with_their_checksum(seeded):
    import hashlib
    with seeded.app_context(), database.connection_context():
        files = list(UploadedFile.select())
    assert files
    for f in files:
        data = (Path(seeded.instance_path) / "uploads" / f.stored_name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size_bytes


@pytest.mark.parametrize("email,role,_", DEMO_LOGINS, ids=[login[0] for login in DEMO_LOGINS])
def test_each_demo_login_reaches_its_home(seeded, email, role, _):
    client = seeded.test_client()
    response = post_form(client, "/login", {"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 303
    if role in (Role.DPO, Role.ADMIN):
        response = post_form(client, "/login/two-factor", {"code": totp_for(DEMO_TOTP_SECRET).now()})
    assert response.headers["Location"] == HOMES[role]
    assert client.get(response.headers["Location"]).status_code == 200


def test_the_demo_command_prints_the_logins(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "Demo data seeded." in result.output
    for email, _, _ in DEMO_LOGINS:
        assert email in result.output
    assert "JBSWY3DPEHPK3PXP" in result.output
    assert "Demo data already present." in runner.invoke(args=["demo"]).output


def test_demo_mode_shows_the_code_only_for_the_published_demo_secret(seeded, make_user):
    from tests.conftest import TEST_PASSWORD
    demo = create_app({**{k: seeded.config[k] for k in ("DATABASE_URL", "INSTANCE_PATH", "MAIL_URL", "SECRET_KEY")},
                       "TESTING": True, "DEMO_MODE": "1"})
    client = demo.test_client()
    post_form(client, "/login", {"email": "dpo@example.com", "password": DEMO_PASSWORD})
    assert "its current code is shown here" in client.get("/login/two-factor").text

    other = demo.test_client()
    dpo = make_user(Role.DPO)  # enrolled with a secret of its own
    post_form(other, "/login", {"email": dpo.email, "password": TEST_PASSWORD})
    page = other.get("/login/two-factor")
    assert page.status_code == 200 and "current code is shown" not in page.text


def test_the_demo_hint_never_offers_a_code_that_was_just_used(seeded):
    import re as _re
    demo = create_app({**{k: seeded.config[k] for k in ("DATABASE_URL", "INSTANCE_PATH", "MAIL_URL", "SECRET_KEY")},
                       "TESTING": True, "DEMO_MODE": "1"})
    for _ in range(2):  # twice within the same 30 seconds
        client = demo.test_client()
        post_form(client, "/login", {"email": "dpo@example.com", "password": DEMO_PASSWORD})
        code = _re.search(r"current code is shown here: <strong>(\d{6})</strong>", client.get("/login/two-factor").text)
        response = post_form(client, "/login/two-factor", {"code": code.group(1)})
        assert response.status_code == 303, response.text


def test_demo_mode_refuses_to_start_on_a_public_address(tmp_path):
    with pytest.raises(RuntimeError, match="DEMO_MODE is for a laptop"):
        create_app({"DEMO_MODE": "1", "BASE_URL": "https://privacy.example.com", "INSTANCE_PATH": str(tmp_path)})


def test_seeding_sends_no_mail(app, smtp):
    """`make run` seeds before its mail catcher starts: the seed must not need SMTP."""
    app.config["MAIL_URL"] = "smtp://127.0.0.1:9"
    with app.app_context(), database.connection_context():
        assert seed_demo(Path(app.instance_path)) is True
