"""Posting forms the way a browser does: with the CSRF token from the page."""
from __future__ import annotations

import re

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str = "/login", **kw) -> str:
    page = client.get(path, **kw)
    match = TOKEN.search(page.text)
    assert match, f"no CSRF token on {path} (status {page.status_code})"
    return match.group(1)


def post_form(client, path: str, data: dict | None = None, token_from: str | None = None, **kw):
    token = csrf_token(client, token_from or path, **{k: v for k, v in kw.items() if k == "base_url"})
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)
