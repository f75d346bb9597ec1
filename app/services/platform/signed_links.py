"""Links whose signed token is the proof (itsdangerous): a confirmation, a
preferences link. Each kind has its own salt, so one kind never passes for another;
an expired or forged token is refused with words the person understands."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.services.platform.errors import ServiceError


@dataclass(frozen=True)
class SignedLink:
    salt: str
    lifetime: timedelta
    expired: str  # what the person reads (410)
    invalid: str  # … and for a forged or cut-short token (400)

    def make(self, data: dict) -> str:
        return self._serializer().dumps(data)

    def read(self, token: str) -> dict:
        try:
            return self._serializer().loads(token, max_age=int(self.lifetime.total_seconds()))
        except SignatureExpired:
            raise ServiceError(self.expired, 410)
        except BadSignature:
            raise ServiceError(self.invalid, 400)

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=self.salt)
