"""The personal-data registry knows every table that points at a person."""
import peewee
import pytest

from app.models import ALL_MODELS, REGISTRY, Lead, User
from app.models.base import BaseModel
from app.models.registry import Erasure, LegalBasis, PersonalData, personal_data, references_person


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
                     recipients=("x",), retention="x", erasure=Erasure.LEGAL_HOLD, person="owner")


def test_a_person_path_that_is_not_a_foreign_key_is_refused():
    with pytest.raises(ValueError, match="not a foreign-key path"):
        @personal_data(category="x", holds="x", source="x", purpose="x", legal_basis=LegalBasis.CONTRACT,
                       recipients=("x",), retention="x", erasure=Erasure.DELETE, person="title")
        class Broken(BaseModel):
            title = peewee.CharField()


def test_card_numbers_are_never_modelled():
    payment = next(m for m in REGISTRY if m.__name__ == "PaymentMethod")
    assert "last4" in payment._meta.fields
    assert payment._meta.fields["last4"].max_length == 4
    assert not any("number" in name for name in payment._meta.fields)
