"""Prepared statements read and write exactly what the same peewee query would."""
from datetime import datetime

from peewee import SQL, fn

from app.db import database
from app.models import AuditEvent, Role, User
from app.models.base import utcnow
from app.prepared import Prepared

BY_EMAIL_AND_ROLE = Prepared(lambda slot: User.select().where(User.email == slot("email"), User.role == slot("role")))
INSERT_AUDIT = Prepared(lambda slot: AuditEvent.insert(
    {getattr(AuditEvent, f): slot(f) for f in ("occurred_at", "action", "actor_label", "prev_hash", "hash")}))
RENAME = Prepared(lambda slot: User.update({User.name: slot("name")}).where(User.id == slot("id")))


def test_a_select_returns_model_rows_with_converted_types(db, make_user):
    user = make_user(Role.DPO, email="prepared@example.com")
    make_user(Role.SUBJECT, email="other@example.com")
    with database.connection_context():
        [found] = BY_EMAIL_AND_ROLE.rows(email="prepared@example.com", role=Role.DPO.value)
        assert BY_EMAIL_AND_ROLE.first(email="prepared@example.com", role=Role.SUBJECT.value) is None
        expected = User.get_by_id(user.id)
    assert found.id == user.id and found.__data__ == expected.__data__  # datetimes and booleans alike


def test_an_insert_returns_the_new_id_and_an_update_its_row_count(db, make_user):
    user = make_user(Role.SUBJECT, email="renamed@example.com")
    now = utcnow()
    with database.connection_context():
        new_id = INSERT_AUDIT.insert(occurred_at=now, action="test.prepared", actor_label="system",
                                     prev_hash="a" * 64, hash="b" * 64)
        assert AuditEvent.get_by_id(new_id).occurred_at == now
        assert RENAME.execute(id=user.id, name="New name") == 1
        assert RENAME.execute(id=-1, name="Nobody") == 0
        assert User.get_by_id(user.id).name == "New name"


def test_a_count_returns_the_same_number_as_peewee_and_the_column_map_is_reused(db, make_user):
    for i in range(3):
        make_user(Role.SUBJECT, email=f"counted{i}@example.com")
    counted = Prepared(lambda slot: User.select(fn.COUNT(SQL("*"))).where(User.role == slot("role")))
    with database.connection_context():
        assert counted.scalar(role=Role.SUBJECT.value) == User.select().where(User.role == Role.SUBJECT.value).count()
        assert counted.scalar(role="nobody") == 0
        first = BY_EMAIL_AND_ROLE.first(email="counted0@example.com", role=Role.SUBJECT.value)
        again = BY_EMAIL_AND_ROLE.first(email="counted1@example.com", role=Role.SUBJECT.value)  # the cached map
    assert (first.email, again.email) == ("counted0@example.com", "counted1@example.com")
    assert isinstance(again.created_at, datetime) and again.role == Role.SUBJECT.value  # still converted
