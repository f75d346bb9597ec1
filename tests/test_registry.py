"""The personal-data registry knows every table that points at a person."""
import peewee
import pytest

from app.models import ALL_MODELS, REGISTRY, Lead, User
from app.models.base import BaseModel
from app.models.registry import Audience, Erasure, LegalBasis, PersonalData, personal_data, references_person


def unregistered_person_models(models) -> list[str]:
    return [m.__name__ for m in models
            if (m is User or references_person(m, User)) and m not in REGISTRY]


def test_every_model_that_reaches_a_person_is_registered():
    assert unregistered_person_models(ALL_MODELS) == []


def test_the_check_catches_a_model_that_reaches_a_person_indirectly():
    class LeadNote(BaseModel):  # throwaway: points at a Lead, which points at a User
        lead = peewee.ForeignKeyField(Lead, backref="+")
        text = peewee.TextField()

    class Reminder(BaseModel):
        owner = peewee.ForeignKeyField(User, backref="+")

    assert unregistered_person_models([*ALL_MODELS, LeadNote, Reminder]) == ["LeadNote", "Reminder"]


def test_every_registered_model_is_migrated():
    assert set(REGISTRY) <= set(ALL_MODELS)


@pytest.mark.parametrize("entry", list(REGISTRY.values()), ids=lambda e: e.category)
def test_each_entry_says_everything_an_access_request_needs(entry: PersonalData):
    for attr in ("category", "holds", "source", "purpose", "retention"):
        assert len(getattr(entry, attr)) > 3, attr
    assert isinstance(entry.legal_basis, LegalBasis)
    assert entry.recipients
    assert isinstance(entry.erasure, Erasure)


def test_a_legal_hold_without_a_reason_is_refused():
    with pytest.raises(ValueError, match="legal hold needs its reason"):
        PersonalData(category="x", holds="x", source="x", purpose="x", legal_basis=LegalBasis.CONTRACT,
                     recipients=("x",), retention="x", erasure=Erasure.LEGAL_HOLD, person="owner",
                     audience=Audience.END_USERS)


def test_a_person_path_that_is_not_a_foreign_key_is_refused():
    with pytest.raises(ValueError, match="not a foreign-key path"):
        @personal_data(category="x", holds="x", source="x", purpose="x", legal_basis=LegalBasis.CONTRACT,
                       recipients=("x",), retention="x", erasure=Erasure.DELETE, person="title",
                       audience=Audience.END_USERS)
        class Broken(BaseModel):
            title = peewee.CharField()


def test_every_entry_says_whom_it_concerns_and_none_is_guessed():
    with pytest.raises(ValueError, match="say whom it concerns"):
        PersonalData(category="x", holds="x", source="x", purpose="x", legal_basis=LegalBasis.CONTRACT,
                     recipients=("x",), retention="x", erasure=Erasure.DELETE, person="owner")
    assert all(isinstance(e.audience, Audience) for e in REGISTRY.values())


def test_staff_and_business_customer_records_stay_out_of_a_dpas_annex():
    with pytest.raises(ValueError, match="not processed for customers"):
        PersonalData(category="x", holds="x", source="x", purpose="x", legal_basis=LegalBasis.CONTRACT,
                     recipients=("x",), retention="x", erasure=Erasure.DELETE, person="owner",
                     audience=Audience.STAFF)
    by_audience = {a: {e.category for e in REGISTRY.values() if e.audience is a} for a in Audience}
    assert "API keys you created (staff)" in by_audience[Audience.STAFF]
    assert "Data Processing Addendum signatures" in by_audience[Audience.BUSINESS_CUSTOMERS]
    assert {"Account", "Contacts and leads", "Call logs"} <= by_audience[Audience.END_USERS]


def test_card_numbers_are_never_modelled():
    payment = next(m for m in REGISTRY if m.__name__ == "PaymentMethod")
    assert "last4" in payment._meta.fields
    assert payment._meta.fields["last4"].max_length == 4
    assert not any("number" in name for name in payment._meta.fields)
