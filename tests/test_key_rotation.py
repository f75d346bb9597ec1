"""Retiring a data-encryption key: `flask keys rotate` re-encrypts the secrets at rest
with the new first key, after which the old key can be dropped and nothing is lost."""
import json

import pytest
from cryptography.fernet import Fernet, InvalidToken

from app import create_app
from app.db import database
from app.models import Connection, PrivacyRequest, Role, User
from app.models.base import utcnow
from app.models.fields import Cipher

TOTP = "JBSWY3DPEHPK3PXP"


def app_with_keys(app, keys: str):
    return create_app({**{k: app.config[k] for k in ("TESTING", "DATABASE_URL", "INSTANCE_PATH", "MAIL_URL",
                                                     "BASE_URL", "SECRET_KEY")}, "DATA_ENCRYPTION_KEY": keys})


@pytest.fixture
def secrets_under_the_old_key(app, make_user):
    old = app.config["DATA_ENCRYPTION_KEY"]
    dpo = make_user(Role.DPO, totp_secret=TOTP)
    person = make_user(Role.SUBJECT)
    with database.connection_context():
        Connection.create(user=person, integration="google_contacts", access_token="ya29.access",
                          refresh_token="1//refresh")
        PrivacyRequest.create(user=person, kind="deletion", status="in_progress", jurisdiction="GDPR", due_at=utcnow(),
                              report=json.dumps({"done": [], "notice_to": Cipher.get().encrypt(b"p@example.com").decode()}))
    return old, dpo, person


def test_after_a_rotation_the_old_key_can_go_and_every_secret_still_reads(app, secrets_under_the_old_key):
    old, dpo, person = secrets_under_the_old_key
    new = Fernet.generate_key().decode()
    result = app_with_keys(app, f"{new},{old}").test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "users: 1 row(s) re-encrypted" in result.output  # only the DPO has a TOTP secret
    assert "connection: 1 row(s) re-encrypted" in result.output

    app_with_keys(app, new)  # the old key is gone
    with database.connection_context():
        assert User.get_by_id(dpo.id).totp_secret == TOTP
        connection = Connection.get(Connection.user == person.id)
        assert (connection.access_token, connection.refresh_token) == ("ya29.access", "1//refresh")
        report = json.loads(PrivacyRequest.get(PrivacyRequest.user == person.id).report)
        assert Cipher.get().decrypt(report["notice_to"].encode()) == b"p@example.com"


def test_without_a_rotation_dropping_the_old_key_loses_the_secrets(app, secrets_under_the_old_key):
    """The check above can fail: the secrets really were under the old key."""
    _, dpo, _ = secrets_under_the_old_key
    app_with_keys(app, Fernet.generate_key().decode())
    with database.connection_context(), pytest.raises(InvalidToken):
        User.get_by_id(dpo.id).totp_secret
