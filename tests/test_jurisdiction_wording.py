"""Wording that fits the person and the law: an end user's pages show the categories
that can concern them (the empty ones folded away, never removed), and every refusal,
extension, receipt and certificate cites the law of the request's jurisdiction."""
import io
import re
from datetime import timedelta

import pypdf
import pytest

from app.db import database
from app.models import REGISTRY, ApiKey, PrivacyRequest, Profile, Role
from app.models.base import utcnow
from app.models.registry import Audience
from app.services.platform import jobs
from app.services.rights.deadlines import JURISDICTIONS
from app.services.rights.laws import LAWS, foreign_citations, law_of
from tests.support.forms import post_form
from tests.support.smtp import text_of

NOT_END_USERS = sorted(e.category for e in REGISTRY.values() if e.audience is not Audience.END_USERS)
FOLD = re.compile(r"<details class=\"nothing-held\">\s*<summary>Categories where we hold nothing about you "
                  r"\((\d+)\)</summary>(.*?)</details>", re.S)


# --- the table -------------------------------------------------------------------------

def test_every_jurisdiction_has_its_law_and_each_law_cites_only_itself():
    assert set(LAWS) == set(JURISDICTIONS)
    for law in LAWS.values():
        said = [*law.refusal_grounds.values(), law.complaint, *law.kept_reasons.values(),
                *(law.right(k) for k in ("access", "deletion", "rectification", "restriction", "objection"))]
        assert [s for s in said if foreign_citations(s, law.code)] == [], law.code
    assert law_of("UK").right("deletion") == "UK GDPR Art. 17" and "ICO" in law_of("UK").complaint
    assert law_of("CCPA").right("deletion") == "Cal. Civ. Code §1798.105"
    assert law_of("IN").right("deletion") == "DPDP Act 2023 s.12(3)" and "s.13" in law_of("IN").complaint
    with pytest.raises(ValueError, match="unknown jurisdiction"):
        law_of("XX")


def test_a_refusal_ground_of_one_law_is_offered_under_that_law_only():
    assert {c for c, law in LAWS.items() if "compelling_grounds" in law.refusal_grounds} == {"GDPR", "UK"}
    assert {c for c, law in LAWS.items() if "transaction" in law.refusal_grounds} == {"CCPA"}
    assert all({"identity", "legal_obligation", "legal_claims"} <= set(law.refusal_grounds) for law in LAWS.values())


def test_a_citation_of_another_law_is_caught_but_the_uk_gdpr_is_not_the_gdpr():
    assert foreign_citations("We must keep it (GDPR Art. 17(3)(b)).", "CCPA") == ["GDPR"]
    assert foreign_citations("We must keep it (UK GDPR Art. 17(3)(b)).", "UK") == []
    assert foreign_citations("We must keep it (GDPR Art. 17(3)(b)).", "UK") == ["GDPR"]
    assert foreign_citations("Kept (Cal. Civ. Code §1798.105(d)(8)).", "GDPR") == ["CCPA"]
    assert foreign_citations("We are not able to say more.", "IN") == []


# --- refusals, extensions and receipts -------------------------------------------------

@pytest.fixture
def filed(make_user):
    def make(jurisdiction, kind="rectification", due_in_days=20):
        person = make_user(Role.SUBJECT)
        with database.connection_context():
            now = utcnow()
            return PrivacyRequest.create(user=person, kind=kind, status="pending_review", received_at=now,
                                         due_at=now + timedelta(days=due_in_days), jurisdiction=jurisdiction)
    return make


def person_of(request) -> str:
    with database.connection_context():
        return PrivacyRequest.get_by_id(request.id).user.email


def test_a_uk_refusal_cites_the_uk_gdpr_and_the_ico(client, login_as, filed, smtp):
    request = filed("UK", kind="deletion")
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    page = client.get(path).text
    assert "handled under the UK GDPR" in page and "UK GDPR Art. 12(6)" in page
    reason = law_of("UK").refusal_grounds["legal_obligation"]
    post_form(client, f"{path}/deny", {"reason": reason}, token_from=path)
    mail = text_of(smtp.wait_for(person_of(request)))
    assert "UK GDPR Art. 17(3)(b)" in mail and "UK GDPR Art. 17" in mail  # the ground, and the right asked for
    assert "Information Commissioner's Office (ICO" in mail and "UK GDPR Art. 12(4), 77 and 79" in mail
    assert not foreign_citations(mail, "UK")


def test_a_ccpa_refusal_cites_the_ccpa_and_no_gdpr_article(client, login_as, filed, smtp):
    request = filed("CCPA", kind="deletion")
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    page = client.get(path).text
    assert "Cal. Civ. Code §1798.105(d)(1)" in page  # a ground the CCPA has and the GDPR has not
    assert "Art. 21(1)" not in page and "GDPR Art." not in page  # and none the CCPA lacks

    wrong = post_form(client, f"{path}/deny", {"reason": "We must keep it (GDPR Art. 17(3)(b))."}, token_from=path)
    assert wrong.status_code == 400 and "cites the GDPR" in wrong.text
    with database.connection_context():
        assert PrivacyRequest.get_by_id(request.id).status == "pending_review"  # nothing sent, nothing decided

    post_form(client, f"{path}/deny", {"reason": law_of("CCPA").refusal_grounds["legal_obligation"]}, token_from=path)
    mail = text_of(smtp.wait_for(person_of(request)))
    assert "Cal. Civ. Code §1798.105(d)(8)" in mail and "Cal. Civ. Code §1798.105" in mail
    assert "California Privacy Protection Agency" in mail
    assert "GDPR" not in mail and "Art." not in mail and "supervisory authority" not in mail


def test_a_dpdp_refusal_points_to_the_grievance_procedure_and_the_board(client, login_as, filed, smtp):
    request = filed("IN", kind="deletion")
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    post_form(client, f"{path}/deny", {"reason": law_of("IN").refusal_grounds["legal_claims"]}, token_from=path)
    mail = text_of(smtp.wait_for(person_of(request)))
    assert "DPDP Act 2023 s.17(1)(a)" in mail and "Data Protection Board of India" in mail
    assert "DPDP Act 2023 s.13" in mail and "GDPR" not in mail


@pytest.mark.parametrize("jurisdiction, cited", [("GDPR", "GDPR Art. 12(3)"), ("UK", "UK GDPR Art. 12(3)"),
                                                 ("CCPA", "11 CCR §7021(b)")])
def test_an_extension_notice_cites_the_law_that_allows_it(client, login_as, filed, smtp, jurisdiction, cited):
    request = filed(jurisdiction, due_in_days=10)
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    post_form(client, f"{path}/extend", {"reason": "The request covers ten years of call recordings."},
              token_from=path)
    mail = text_of(smtp.wait_for(person_of(request)))
    assert f"allows this one extension ({cited})" in mail
    assert not foreign_citations(mail, jurisdiction)


@pytest.mark.parametrize("country, cited", [("GB", ["UK GDPR Art. 16", "UK GDPR Art. 12(3)"]),
                                            ("US", ["Cal. Civ. Code §1798.106", "11 CCR §7021(b)"]),
                                            ("IN", ["DPDP Act 2023 s.12(2)", "DPDP Rules 2025 r.14"])])
def test_the_receipt_cites_the_right_and_the_clock_of_the_persons_law(client, login_as, smtp, country, cited):
    person = login_as(Role.SUBJECT)
    with database.connection_context():
        Profile.create(user=person, country=country)
    smtp.clear()
    assert post_form(client, "/requests/", {"kind": "rectification", "details": "My phone number is wrong."},
                     token_from="/requests/").status_code == 303
    mail = text_of(smtp.wait_for(person.email))
    assert "We received your request" in mail
    for citation in cited:
        assert citation in mail
    assert "GDPR" not in mail or country == "GB"
    if country == "IN":  # the DPDP clock has no extension to announce
        assert "need more time" not in mail


# --- the certificate -------------------------------------------------------------------

def certificate_text(message) -> str:
    [pdf] = [p for p in message.iter_attachments() if p.get_filename() == "certificate-of-erasure.pdf"]
    pages = pypdf.PdfReader(io.BytesIO(pdf.get_content())).pages
    text = " ".join(" ".join(page.extract_text() for page in pages).split())
    return re.sub(r"(\w)- (\w)", r"\1-\2", text)  # a hyphenated word wrapped at a line end


@pytest.mark.parametrize("jurisdiction, cited, complaint", [
    ("GDPR", "GDPR Art. 17", "supervisory authority"),
    ("UK", "UK GDPR Art. 17", "Information Commissioner's Office"),
    ("CCPA", "Cal. Civ. Code §1798.105", "California Privacy Protection Agency"),
    ("IN", "DPDP Act 2023 s.12(3)", "Data Protection Board of India"),
])
def test_the_certificate_cites_the_law_of_the_request_and_folds_what_held_nothing(
        app, client, login_as, filed, smtp, jurisdiction, cited, complaint):
    request = filed(jurisdiction, kind="deletion")
    address = person_of(request)
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    assert post_form(client, f"{path}/approve", token_from=path).status_code == 303
    with app.app_context(), database.connection_context():
        smtp.clear()
        jobs.run_pending()
        assert PrivacyRequest.get_by_id(request.id).status == "completed"
    text = certificate_text(smtp.wait_for(address))
    assert f"({cited})" in text and complaint in text
    assert not foreign_citations(text, jurisdiction), text
    kept = law_of(jurisdiction).kept_reasons["Privacy requests"]
    assert " ".join(kept.split()) in text, text  # the registry's hold, said in the request's law
    assert "Categories where we held nothing about you" in text and "Call logs" in text
    assert not [c for c in NOT_END_USERS if c in text]  # no staff or business-customer categories


# --- the portal and My data ------------------------------------------------------------

def folded(html: str) -> tuple[int, str]:
    match = FOLD.search(html)
    assert match, "the empty categories are folded in a <details>"
    return int(match.group(1)), match.group(2)


def headings(html: str) -> list[str]:
    """The category cards' titles (portal: h3; My data: h2 with its count after a ·)."""
    return [t.strip() for t in re.findall(r"<h[23][^>]*>([^<]+)", html)]


@pytest.mark.parametrize("path", ["/portal/", "/my-data/"])
def test_an_end_user_sees_no_staff_or_customer_category_and_the_empty_ones_folded(client, login_as, path):
    login_as(Role.SUBJECT)
    html = client.get(path).text
    assert [c for c in NOT_END_USERS if c in html] == []
    count, inside = folded(html)
    end_user = {e.category for e in REGISTRY.values() if e.audience is Audience.END_USERS}
    empty, held = set(headings(inside)), set(headings(FOLD.sub("", html))) & end_user
    assert count == len(empty) and "Call logs" in empty
    assert "Account" in held and "Account" not in empty  # what we hold stays in view
    assert empty | held == end_user  # folded, not removed


def test_a_staff_member_who_is_also_a_data_subject_sees_their_own_staff_rows(client, login_as, make_user):
    person = login_as(Role.SUBJECT)  # a former admin: their API keys still name them
    with database.connection_context():
        ApiKey.create(name="CRM sync", prefix="pcc_ab12", key_hash="0" * 64, created_by=person)
    for path in ("/portal/", "/my-data/"):
        html = client.get(path).text
        _, inside = folded(html)
        assert "API keys you created (staff)" in headings(FOLD.sub("", html)), path
        assert "API keys you created (staff)" not in inside
        assert "Retention policies you changed (staff)" not in html  # no rows there: not theirs to see


def test_the_dpos_register_still_lists_every_category_with_whom_it_concerns(client, login_as):
    login_as(Role.DPO)
    html = client.get("/dpo/register").text
    assert all(e.category in html for e in REGISTRY.values())
    assert "our staff" in html and "business customers&#39; admins" in html
