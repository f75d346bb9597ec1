"""The purposes catalogue: what people can say yes or no to, and its notice versions."""
from __future__ import annotations

from app.db import database
from app.models.base import utcnow
from app.models.consent import Purpose, PurposeKind, PurposeNotice
from app.services.platform import audit
from app.services.platform.errors import ServiceError

CONSENT, LEGITIMATE_INTEREST = "consent", "legitimate_interest"
K = PurposeKind

# key, name, kind, legal basis, default, plain-language notice, locked reason
CATALOGUE = (
    ("marketing_email", "Marketing email", K.MARKETING, CONSENT, False,
     "News, offers and product updates by email. At most a few a month; every one has an unsubscribe link.", None),
    # Legitimate interest would allow "on unless you object"; LEGAL.md's rule is that
    # every optional purpose starts off, and the stricter rule wins.
    ("postal_offers", "Product offers by post", K.MARKETING, LEGITIMATE_INTEREST, False,
     "Occasional letters about products similar to the ones you use.", None),
    ("voice_broadcast", "Voice broadcasts", K.MARKETING, CONSENT, False,
     "Recorded phone messages about offers and events.", None),
    ("sms_marketing", "Text message offers", K.MARKETING, CONSENT, False,
     "Offers and reminders by SMS. Reply STOP to any of them to end them.", None),
    ("push_notifications", "Push notifications", K.MARKETING, CONSENT, False,
     "Notifications about offers and tips on your phone or browser. You can also turn them off per device below.", None),
    ("click_tracking", "Email click-through tracking", K.TRACKING, CONSENT, False,
     "Links in our emails go through our server first, so we learn which links you follow. Off: you get plain links.", None),
    ("open_tracking", "Email open tracking", K.TRACKING, CONSENT, False,
     "A tiny invisible image in our emails tells us when you open them. Off: no such image is included.", None),
    ("product_analytics", "Product analytics on the website", K.TRACKING, CONSENT, False,
     "We record which pages and features you use, to improve them.", None),
    ("partner_sharing", "Sharing with reselling partners", K.SHARING, CONSENT, False,
     "We share your name, company and contact details with partners who resell our product, so they can contact you.", None),
    ("ai_improvement", "Improving AI models with your service data", K.PROCESSING, CONSENT, False,
     "We use your CRM data, de-identified, to train the models behind smart suggestions.", None),
    ("call_analysis", "Analysis of recorded calls", K.PROCESSING, CONSENT, False,
     "Recorded calls are transcribed and analysed to give you coaching tips.", None),
    ("security_alerts", "Security alerts", K.ESSENTIAL, "contract", True,
     "Sign-ins from new devices, suspicious activity.",
     "We must be able to warn you when your account may be at risk."),
    ("account_notices", "Password and account changes", K.ESSENTIAL, "contract", True,
     "Confirmation when your password, email address or sign-in settings change.",
     "These messages protect your account; the law and our contract with you require them."),
    ("billing", "Billing and invoices", K.ESSENTIAL, "contract", True,
     "Invoices, receipts and payment problems.",
     "Tax law requires us to send invoices, and you need to know about payments."),
)


def ensure_catalogue() -> int:
    """Insert the purposes that do not exist yet (never overwrites an admin's edits)."""
    existing = {p.key for p in Purpose.select(Purpose.key)}
    added = 0
    with database.atomic():
        for position, (key, name, kind, basis, default, text, locked) in enumerate(CATALOGUE):
            if key not in existing:
                purpose = Purpose.create(key=key, name=name, kind=kind.value, legal_basis=basis,
                                         default_granted=default, description=text, locked_reason=locked,
                                         position=position)
                PurposeNotice.create(purpose=purpose, version=1, name=name, text=text)
                added += 1
    return added


def update_purpose(purpose: Purpose, *, name: str, description: str, default_granted: bool,
                   material: bool, actor) -> Purpose:
    """Edit a purpose. Any change of wording publishes a new notice version, kept
    unchanged beside the old ones (what people agreed to must stay provable). A material
    change also means consents given to earlier versions are no longer assumed until
    each person confirms again."""
    if default_granted and purpose.legal_basis == CONSENT:
        raise ServiceError("A purpose based on consent must default to off: no pre-ticked boxes (GDPR Art. 7, 25).")
    if purpose.locked and not default_granted:
        raise ServiceError("Essential communications cannot be switched off.")
    with database.atomic():
        old_version = purpose.notice_version
        reworded = (name, description) != (purpose.name, purpose.description)
        purpose.name, purpose.description, purpose.default_granted = name, description, default_granted
        if reworded or material:
            purpose.notice_version += 1
            purpose.notice_published_at = utcnow()
            PurposeNotice.create(purpose=purpose, version=purpose.notice_version, name=name, text=description,
                                 material=material)
        if material:
            purpose.reconfirm_from_version = purpose.notice_version
        purpose.save()
        audit.record(audit.Event("purpose.updated", actor=actor, details={
            "purpose": purpose.key, "material": material,
            "notice_version": {"from": old_version, "to": purpose.notice_version}}))
    return purpose
