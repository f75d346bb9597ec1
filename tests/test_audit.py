"""The audit log is a hash chain: any edit or deletion is found."""
import re

import pytest

from app.db import database
from app.models import AuditEvent, Role
from app.services.platform import audit


def write_three():
    for i in range(3):
        audit.record(audit.Event("test.event", details={"n": i}, ip="203.0.113.77"))


def test_an_untouched_chain_verifies(db):
    write_three()
    assert audit.verify_chain() == (True, 3, None)


def test_ips_are_truncated_before_they_are_stored(db):
    write_three()
    assert {e.ip for e in AuditEvent.select()} == {"203.0.113.0"}
    assert audit.truncate_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348") == "2001:db8:85a3::"


@pytest.mark.parametrize("ip,kept", [
    ("192.0.2.77", "192.0.2.0"), ("::1", "::"), ("2001:db8::1", "2001:db8::"),
    ("::ffff:192.0.2.1", "192.0.2.0"), ("not an ip", None), ("", None), (None, None)])
def test_truncation_handles_every_address_form(ip, kept):
    assert audit.truncate_ip(ip) == kept


def test_an_edited_record_breaks_the_chain_where_it_was_edited(db):
    write_three()
    second = AuditEvent.select().order_by(AuditEvent.id)[1]
    AuditEvent.update(details='{"n": 99}').where(AuditEvent.id == second.id).execute()
    assert audit.verify_chain() == (False, 1, second.id)


def test_a_deleted_record_breaks_the_chain(db):
    write_three()
    second = AuditEvent.select().order_by(AuditEvent.id)[1]
    second.delete_instance()
    intact, checked, broken_at = audit.verify_chain()
    assert not intact and checked == 1


def test_the_verify_command_exits_non_zero_on_tampering(db, runner):
    write_three()
    assert "intact: 3 record(s)" in runner.invoke(args=["audit", "verify"]).output
    AuditEvent.update(action="nothing.happened").where(AuditEvent.id == AuditEvent.select().first().id).execute()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "BROKEN" in result.output


def test_a_fork_in_the_chain_cannot_be_written(db):
    write_three()
    last = AuditEvent.select().order_by(AuditEvent.id.desc()).first()
    import peewee
    try:
        with database.atomic():
            AuditEvent.create(action="forged", actor_label="x", prev_hash=last.prev_hash, hash="f" * 64)
    except peewee.IntegrityError:
        return
    raise AssertionError("a second record after the same predecessor was accepted")


def test_deleting_a_person_does_not_break_the_chain(db, make_user):
    person = make_user()
    audit.record(audit.Event("test.event", subject=person))
    write_three()
    person.delete_instance()  # the foreign key is nulled; the hashed copy stays
    assert audit.verify_chain() == (True, 4, None)


def test_the_dpo_verifies_the_chain_on_demand(client, login_as):
    from tests.support.forms import post_form
    login_as(Role.DPO)
    assert "Verify the whole chain now" in client.get("/dpo/").text
    response = post_form(client, "/dpo/audit/verify", token_from="/dpo/", headers={"HX-Request": "true"})
    assert "Chain intact" in response.text and "<html" not in response.text
    with database.connection_context():
        AuditEvent.update(action="edited").where(AuditEvent.id == AuditEvent.select().first().id).execute()
    response = post_form(client, "/dpo/audit/verify", token_from="/dpo/")
    assert "Chain broken at record" in response.text


def test_the_audit_page_filters_and_pages(client, login_as, make_user):
    login_as(Role.DPO)
    person = make_user()
    with database.connection_context():
        for i in range(60):
            audit.record(audit.Event("test.bulk", subject=person, details={"n": i}))
        audit.record(audit.Event("other.thing"))
    page = client.get("/dpo/audit?action=test.bulk").text
    assert page.count("<code>test.bulk</code>") == 50 and "other.thing</code>" not in page.split("<tbody>")[1]
    older = re.search(r'before=(\d+)', page).group(1)
    rest = client.get(f"/dpo/audit?action=test.bulk&before={older}", headers={"HX-Request": "true"}).text
    assert rest.count("<code>test.bulk</code>") == 10 and "<html" not in rest
    assert client.get(f"/dpo/audit?subject={person.id}").text.count("<code>test.bulk</code>") == 50
