"""Rate-limit keys for pages reached by an emailed link. Its holder has no session,
but the link verified who they are: count them as that person (or address), so that
people behind one network address never share a limit. A link that does not verify
counts by network address, like any anonymous call (app.extensions.person_or_address)."""
from __future__ import annotations

from typing import Callable

from flask import request

from app.extensions import person_or_address
from app.services.platform.errors import ServiceError


def link_holder(identify: Callable[[str], str]) -> Callable[[], str]:
    """A key function: `identify(token)` names whom the route's link verified, or
    raises ServiceError for a link that does not verify."""
    def key() -> str:
        token = (request.view_args or {}).get("token", "")
        try:
            return f"link:{identify(token)}"
        except ServiceError:
            return person_or_address()
    return key
