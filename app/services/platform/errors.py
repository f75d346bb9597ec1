"""Domain errors: each carries the HTTP status and the message a user should read."""
from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class AuthError(ServiceError):
    status = 401


class MailError(ServiceError):
    status = 503
