"""One view, two answers: the full page, or for htmx just the fragment it swaps."""
from __future__ import annotations

from flask import render_template, request


def render_page_or_fragment(page_template: str, fragment_template: str, **context) -> str:
    """The page includes the fragment, so the markup exists once. History restores
    ask for the whole page, so they get it."""
    wants_fragment = request.htmx and not request.htmx.history_restore_request
    return render_template(fragment_template if wants_fragment else page_template, **context)
