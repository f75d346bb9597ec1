"""Whether an address can be mailed, by its syntax alone: one check for imports,
staff sign-ups and the suppression list, so they never disagree."""
from __future__ import annotations

import re

_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def email_problem(email: str) -> str | None:
    """Why a normalised address cannot be mailed, judged by its syntax alone (the
    domain's labels and top-level domain included; no DNS lookup)."""
    if not email:
        return "no email address"
    if email.count("@") != 1 or len(email) > 254:
        return "not a valid email address"
    local, domain = email.split("@")
    if len(local) > 64 or not _LOCAL.match(local):
        return "not a valid email address (the part before the @)"
    return _domain_problem(domain)


def _domain_problem(domain: str) -> str | None:
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")  # an international domain, as DNS knows it
        except UnicodeError:
            return f"the domain “{domain}” is not valid"
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2:
        return f"the domain “{domain}” is not valid (it needs a dot, like example.com)"
    if not all(_LABEL.match(label) for label in labels):
        return f"the domain “{domain}” is not valid"
    if not _TLD.match(labels[-1]):
        return f"the domain “{domain}” does not end in a valid top-level domain"
    return None
