"""The law each request is handled under, as the person is told it: one table, keyed by
PrivacyRequest.jurisdiction (the codes of app.services.rights.deadlines), so that every
refusal, extension, receipt and certificate cites the request's own law and not GDPR
for everybody.

Each law names, per right, the provision a person invokes; the refusal grounds that
law recognises (a ground that exists in one law only, such as the GDPR's compelling
legitimate grounds against an objection or the CCPA's "complete the transaction"
exception, is offered for that law only); and where the person can complain."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.services.rights.deadlines import JURISDICTIONS


@dataclass(frozen=True)
class Authority:
    name: str
    url: str | None


@dataclass(frozen=True)
class Law:
    code: str             # PrivacyRequest.jurisdiction
    short: str            # "UK GDPR": what a citation starts with
    name: str             # as read in a sentence: "under the UK GDPR"
    deadline: str         # the provision setting the answer's clock
    extension: str | None  # the provision allowing one extension, if any
    rights: dict[str, str]  # RequestKind value (and "access"): the provision of that right
    erasure_exceptions: str  # the provision for data kept despite an erasure
    refusal_grounds: dict[str, str]  # key: the sentence given to the person, with its citation
    complaint: str        # the right to complain, said in every refusal
    authority: Authority
    # Words that cite this law; a refusal under another law must not use them.
    markers: tuple[str, ...] = ()
    # Why a category the registry keeps on erasure (Erasure.LEGAL_HOLD) is kept, in this
    # law's terms, by category; the registry's own reason where this law has none.
    kept_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The name at the start of a sentence."""
        return self.name[0].upper() + self.name[1:]

    def kept_reason(self, category: str, default: str) -> str:
        return self.kept_reasons.get(category, default)

    def right(self, kind: str) -> str:
        """The provision of a right; a kind this table does not know yet cites the law itself."""
        return self.rights.get(kind, self.short)


_GDPR_GROUNDS = {
    "identity": "We could not verify your identity ({p} Art. 12(6)).",
    "manifestly_unfounded": "The request is manifestly unfounded or excessive ({p} Art. 12(5)).",
    "legal_obligation": "We must keep this data to comply with a legal obligation ({p} Art. 17(3)(b)).",
    "legal_claims": "We need this data to establish, exercise or defend legal claims ({p} Art. 17(3)(e)).",
    "compelling_grounds": "We have compelling legitimate grounds that override your interests ({p} Art. 21(1)).",
}


def _gdpr_kept(p: str) -> dict[str, str]:
    proof = f"Proof of consent and of its withdrawal ({p} Art. 7(1), Art. 17(3)(b) and (e))"
    return {
        "Audit log": f"Accountability ({p} Art. 5(2)) and defence of legal claims ({p} Art. 17(3)(e)); the record "
                     "of an erasure must outlive the erased data.",
        "Consent records": f"{proof}; without it we could not show that we stopped.",
        "Consent evidence from imports": f"{proof}; kept with the consent record it belongs to.",
        "Privacy requests": "The record of a request, including an erasure, is kept for 24 months to show how it "
                            f"was handled ({p} Art. 5(2) accountability; Art. 17(3)(e)). Its free-text details "
                            "are erased.",
        "Privacy request timeline": f"Part of the request record kept 24 months ({p} Art. 5(2) accountability); "
                                    "names of people are replaced.",
        "Privacy team notes on your requests": "Part of the record of how a request was handled, kept 24 months "
                                               f"({p} Art. 5(2) accountability).",
    }


_CCPA_KEPT = {
    "Audit log": "To keep our systems secure and to prove how requests were handled (Cal. Civ. Code "
                 "§1798.105(d)(2); 11 CCR §7101); the record of a deletion must outlive the deleted data.",
    "Consent records": "Proof of your choices and of their withdrawal (Cal. Civ. Code §1798.105(d)(8); "
                       "11 CCR §7101); without it we could not show that we stopped.",
    "Consent evidence from imports": "Proof of your choices (Cal. Civ. Code §1798.105(d)(8)); kept with the "
                                     "consent record it belongs to.",
    "Privacy requests": "The record of a request, including a deletion, must be kept for 24 months (11 CCR §7101). "
                        "Its free-text details are erased.",
    "Privacy request timeline": "Part of the request record kept 24 months (11 CCR §7101); names of people are "
                                "replaced.",
    "Privacy team notes on your requests": "Part of the record of how a request was handled, kept 24 months "
                                           "(11 CCR §7101).",
}

_DPDP_KEPT = {
    "Audit log": "To enforce or defend legal claims about how your data was handled (DPDP Act 2023 s.17(1)(a)); "
                 "the record of an erasure must outlive the erased data.",
    "Consent records": "Proof of consent and of its withdrawal, which we must be able to give (DPDP Act 2023 "
                       "s.6(10)); without it we could not show that we stopped.",
    "Consent evidence from imports": "Proof of consent (DPDP Act 2023 s.6(10)); kept with the consent record it "
                                     "belongs to.",
    "Privacy requests": "The record of a request, including an erasure, is kept for 24 months to show how it was "
                        "handled (DPDP Act 2023 s.17(1)(a)). Its free-text details are erased.",
    "Privacy request timeline": "Part of the request record kept 24 months (DPDP Act 2023 s.17(1)(a)); names of "
                                "people are replaced.",
    "Privacy team notes on your requests": "Part of the record of how a request was handled, kept 24 months "
                                           "(DPDP Act 2023 s.17(1)(a)).",
}


def _gdpr_rights(p: str) -> dict[str, str]:
    return {"access": f"{p} Art. 15", "rectification": f"{p} Art. 16", "deletion": f"{p} Art. 17",
            "restriction": f"{p} Art. 18", "objection": f"{p} Art. 21"}


LAWS: dict[str, Law] = {
    "GDPR": Law(
        code="GDPR", short="GDPR", name="the GDPR (Regulation (EU) 2016/679)",
        deadline="GDPR Art. 12(3)", extension="GDPR Art. 12(3)",
        rights=_gdpr_rights("GDPR"), erasure_exceptions="GDPR Art. 17(3)",
        refusal_grounds={k: v.format(p="GDPR") for k, v in _GDPR_GROUNDS.items()},
        complaint="You may complain to a data protection supervisory authority and seek a judicial remedy "
                  "(GDPR Art. 12(4), 77 and 79).",
        authority=Authority("the data protection supervisory authority of the EU or EEA country where you live, "
                            "work or think the infringement took place",
                            "https://www.edpb.europa.eu/about-edpb/about-edpb/members_en"),
        markers=("GDPR",), kept_reasons=_gdpr_kept("GDPR"),
    ),
    "UK": Law(
        code="UK", short="UK GDPR", name="the UK GDPR and the Data Protection Act 2018",
        deadline="UK GDPR Art. 12(3)", extension="UK GDPR Art. 12(3)",
        rights=_gdpr_rights("UK GDPR"), erasure_exceptions="UK GDPR Art. 17(3)",
        refusal_grounds={k: v.format(p="UK GDPR") for k, v in _GDPR_GROUNDS.items()},
        complaint="You may complain to the Information Commissioner's Office (ICO, ico.org.uk/make-a-complaint, "
                  "0303 123 1113) and seek a judicial remedy (UK GDPR Art. 12(4), 77 and 79).",
        authority=Authority("the Information Commissioner's Office (ICO)", "https://ico.org.uk/make-a-complaint/"),
        markers=("UK GDPR", "ICO", "Information Commissioner"), kept_reasons=_gdpr_kept("UK GDPR"),
    ),
    "CCPA": Law(
        code="CCPA", short="CCPA", name="the California Consumer Privacy Act (CCPA, Cal. Civ. Code §1798.100 et seq.)",
        deadline="11 CCR §7021(b)", extension="11 CCR §7021(b)",
        # The CCPA has no restriction or objection as such: the nearest rights are to
        # limit the use of sensitive personal information and to opt out of sale or sharing.
        rights={"access": "Cal. Civ. Code §1798.110", "rectification": "Cal. Civ. Code §1798.106",
                "deletion": "Cal. Civ. Code §1798.105", "restriction": "Cal. Civ. Code §1798.121",
                "objection": "Cal. Civ. Code §1798.120"},
        erasure_exceptions="Cal. Civ. Code §1798.105(d)",
        refusal_grounds={
            "identity": "We could not verify your identity (11 CCR §7060–7062).",
            "manifestly_unfounded": "The request is manifestly unfounded or excessive, in particular because it "
                                    "repeats earlier ones (Cal. Civ. Code §1798.145).",
            "legal_obligation": "We must keep this data to comply with a legal obligation "
                                "(Cal. Civ. Code §1798.105(d)(8)).",
            "legal_claims": "We need this data to exercise or defend legal claims "
                            "(Cal. Civ. Code §1798.145(a)(1)(E)).",
            "transaction": "We need this data to complete the transaction or provide the service you asked for, or "
                           "to perform our contract with you (Cal. Civ. Code §1798.105(d)(1)).",
        },
        complaint="You may contact the California Privacy Protection Agency (cppa.ca.gov) or the California "
                  "Attorney General (oag.ca.gov/privacy) if you think we have not complied with the CCPA "
                  "(11 CCR §7022 and §7024).",
        authority=Authority("the California Privacy Protection Agency (CPPA)", "https://cppa.ca.gov/"),
        markers=("CCPA", "CCR", "Cal. Civ. Code", "§1798"), kept_reasons=_CCPA_KEPT,
    ),
    "IN": Law(
        code="IN", short="DPDP Act 2023", name="India's Digital Personal Data Protection Act, 2023 (DPDP Act)",
        deadline="DPDP Rules 2025 r.14", extension=None,
        # The DPDP Act has no restriction or objection: withdrawing consent (s.6(4)) and
        # the grievance procedure (s.13) are what a person has.
        rights={"access": "DPDP Act 2023 s.11", "rectification": "DPDP Act 2023 s.12(2)",
                "deletion": "DPDP Act 2023 s.12(3)", "restriction": "DPDP Act 2023 s.13",
                "objection": "DPDP Act 2023 s.6(4)"},
        erasure_exceptions="DPDP Act 2023 s.8(7) and s.12(3)",
        refusal_grounds={
            "identity": "We could not verify that you are the person the data is about (DPDP Rules 2025 r.14).",
            "manifestly_unfounded": "The grievance is false or frivolous (DPDP Act 2023 s.15(d)).",
            "legal_obligation": "We must keep this data to comply with a law in force (DPDP Act 2023 s.8(7) and "
                                "s.12(3)).",
            "legal_claims": "We need this data to enforce a legal right or claim (DPDP Act 2023 s.17(1)(a)).",
        },
        complaint="If our grievance redressal (DPDP Act 2023 s.13) has not resolved this, you may complain to "
                  "the Data Protection Board of India (DPDP Act 2023 s.13(3) and s.27).",
        authority=Authority("the Data Protection Board of India", None),
        markers=("DPDP", "Data Protection Board of India"), kept_reasons=_DPDP_KEPT,
    ),
}
assert set(LAWS) == set(JURISDICTIONS), "every jurisdiction needs its law"


def law_of(jurisdiction: str) -> Law:
    try:
        return LAWS[jurisdiction]
    except KeyError:
        raise ValueError(f"unknown jurisdiction {jurisdiction!r}") from None


def foreign_citations(text: str, jurisdiction: str) -> list[str]:
    """The other laws `text` cites: a refusal under the CCPA that quotes a GDPR article
    tells the person the wrong rules. "UK GDPR" is not a citation of the GDPR."""
    found = []
    for law in LAWS.values():
        if law.code == jurisdiction:
            continue
        scrubbed = text
        if law.code == "GDPR":  # its marker is inside the UK's name
            scrubbed = text.replace("UK GDPR", "")
        if any(re.search(r"(?<!\w)" + re.escape(m) + r"(?!\w)", scrubbed) for m in law.markers):
            found.append(law.code)
    return found

