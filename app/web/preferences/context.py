"""Who the preferences pages are for: the signed-in person, or the holder of a
signed link, who may reach this person's preferences and nothing else."""
from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

from app.models import ConsentSource, User
from app.services.consent.ledger import Origin


@dataclass(frozen=True)
class PreferenceContext:
    person: User
    link_token: str | None = None

    @property
    def source(self) -> ConsentSource:
        return ConsentSource.EMAIL_LINK if self.link_token else ConsentSource.PORTAL

    def url(self, action: str, **values) -> str:
        """The URL of `action` ("page", "toggle", "stop_marketing") for this way in."""
        if self.link_token:
            return url_for(f"preferences.link_{action}", token=self.link_token, **values)
        return url_for(f"preferences.{action}", **values)

    def origin(self, source: ConsentSource | None = None) -> Origin:
        return Origin(source or self.source, actor=self.person, ip=request.remote_addr,
                      user_agent=request.user_agent.string)
