"""Objection (GDPR Art. 21), per processing. The person says what they object to:

- direct marketing, and the tracking that profiles them for it: absolute (Art. 21(2)-(3)),
  so it takes effect as soon as it is filed, with no decision to make;
- one processing we do on legitimate interest or that they may have agreed to
  (profiling of product use, analysis of recorded calls, AI improvement, sharing with
  partners, and any other purpose of the catalogue on legitimate interest), or
  something else they describe. The DPO weighs it: approving stops exactly that
  processing (its consent is withdrawn in the ledger by staff, and the consent API
  answers it refused with `objected: true`); refusing needs compelling legitimate
  grounds (Art. 21(1)), kept on the request and shown in its timeline.

While the DPO weighs one, the person's data is restricted (app.services.rights.restrictions).
What an approval stopped is one sentence (`Processing.stopped`), written in the
timeline and the decision email alike."""
from __future__ import annotations

from dataclasses import dataclass

from app.models import ConsentSource, PrivacyRequest, Purpose, PurposeKind, User
from app.models.restrictions import DIRECT_MARKETING
from app.services.consent import ledger
from app.services.consent.purposes import LEGITIMATE_INTEREST
from app.services.platform import audit
from app.services.platform.errors import ServiceError

OTHER = "other"
UNCHANGED = "your marketing choices are unchanged"


class ObjectionError(ServiceError):
    """An objection that cannot be filed as given: `field` names the form field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Processing:
    key: str           # stored on the request
    label: str         # what the person objects to, on the form
    stopped: str       # what an approval stopped, for the timeline and the email
    absolute: bool = False
    purpose_key: str | None = None


MARKETING = Processing(
    DIRECT_MARKETING, "Direct marketing by any channel, and the tracking that profiles you for it",
    "All direct marketing from us (email, post, voice, SMS, push, newsletters) and the tracking behind it "
    "stopped: an objection to direct marketing is absolute (GDPR Art. 21(3)).", absolute=True)
NAMED = (
    Processing("product_analytics", "Profiling: analysis of how you use our product",
               f"Profiling of how you use our product stopped; {UNCHANGED}.", purpose_key="product_analytics"),
    Processing("call_analysis", "Analysis of recorded calls",
               f"Analysis of recorded calls stopped; {UNCHANGED}.", purpose_key="call_analysis"),
    Processing("ai_improvement", "Improving AI models with your service data",
               f"Use of your data to improve AI models stopped; {UNCHANGED}.", purpose_key="ai_improvement"),
    Processing("partner_sharing", "Sharing your details with reselling partners",
               f"Sharing your details with partners stopped; {UNCHANGED}.", purpose_key="partner_sharing"),
)
SOMETHING_ELSE = Processing(OTHER, "Something else we do on legitimate interest (say what in the details)",
                            f"The processing you objected to is being stopped by our privacy team; {UNCHANGED}.")


def choices() -> list[Processing]:
    """What the form offers: direct marketing, the named ones, every other purpose of
    the catalogue processed on legitimate interest (marketing ones are direct
    marketing already), and something else."""
    named = {p.key for p in NAMED}
    on_interest = [Processing(p.key, p.name, f"{p.name} stopped; {UNCHANGED}.", purpose_key=p.key)
                   for p in Purpose.catalogue().where(Purpose.legal_basis == LEGITIMATE_INTEREST)
                   if p.key not in named and p.kind not in (PurposeKind.MARKETING.value, PurposeKind.ESSENTIAL.value)]
    return [MARKETING, *NAMED, *on_interest, SOMETHING_ELSE]


def processing(key: str | None) -> Processing:
    """None: an objection filed before the choice existed, carried out as direct marketing."""
    if key is None:
        return MARKETING
    for p in choices():
        if p.key == key:
            return p
    raise ObjectionError("processing", "Choose what you object to from the list.")


def processing_of(request: PrivacyRequest) -> Processing:
    """Also for a request whose purpose has since left the catalogue: named by its key."""
    try:
        return processing(request.processing)
    except ObjectionError:
        purpose = Purpose.get_or_none(Purpose.key == request.processing)
        name = purpose.name if purpose else request.processing
        return Processing(request.processing, name, f"{name} stopped; {UNCHANGED}.", purpose_key=request.processing)


def check(key: str | None, details: str) -> Processing:
    """The filing's rules: a choice from the list, and words for "something else"."""
    if not key:
        raise ObjectionError("processing", "Choose what you object to.")
    chosen = processing(key)
    if chosen.key == OTHER and len(details.strip()) < 10:
        raise ObjectionError("details", "Say in the details which processing you object to, so we can stop it.")
    return chosen


def carry_out(request: PrivacyRequest, actor: User | None) -> Processing:
    """Stop exactly what was objected to, in the caller's transaction. "Something
    else" is carried out by the privacy team, who then mark it done."""
    chosen = processing_of(request)
    person = User.get_by_id(request.user_id)
    origin = ledger.Origin(ConsentSource.STAFF, actor=actor)
    if chosen.absolute:
        ledger.stop_all_marketing(person, origin)
    elif chosen.purpose_key:
        purpose = ledger.purpose_by_key(chosen.purpose_key)
        if not purpose.locked:
            ledger.set_consent(person, purpose, False, origin)
    audit.record(audit.Event("objection.upheld", actor=actor, subject=person, details={
        "request_id": request.id, "processing": chosen.key}))
    return chosen
