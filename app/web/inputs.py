"""What the app accepts from outside, checked once for every view, so that no input,
however odd, reaches a query or a form it would break:

- integers in paths, query strings and forms are ones the database can hold
  (`app.db.MAX_INTEGER`): a larger id in a path is "not found" (404), a larger or
  malformed parameter is a bad request (400);
- a form endpoint takes a form body (urlencoded or multipart), nothing else (415):
  Flask-WTF would otherwise read a JSON body into the form, lists and objects where
  its fields expect text. The JSON API (app/web/api) keeps JSON;
- files only in the upload fields a view declares (`accepts_files`);
- no NUL character anywhere (400): PostgreSQL cannot store one in text.
"""
from __future__ import annotations

from flask import Flask, abort, current_app, request
from werkzeug.routing import IntegerConverter

from app.db import MAX_INTEGER
from app.services.platform.errors import ServiceError

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
SUBMIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_BLUEPRINTS = frozenset({"api"})


class DatabaseInteger(IntegerConverter):
    """`<int:…>` in a route: a number no id column can hold names no object, so the
    route does not match (404), as for any other id that does not exist."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INTEGER)
        super().__init__(map, *args, **kwargs)


def database_int(value) -> int:
    """`value` as an integer the database can hold; ValueError otherwise (WTForms'
    `coerce` turns that into the field's error)."""
    number = int(value)
    if not -MAX_INTEGER <= number <= MAX_INTEGER:
        raise ValueError(f"{number} is out of range")
    return number


def int_arg(name: str) -> int | None:
    """An integer query parameter (a filter, a page cursor): None when absent or
    empty, 400 when it is not a number the database can hold."""
    raw = request.args.get(name, "")
    if raw == "":
        return None
    try:
        return database_int(raw)
    except ValueError:
        raise ServiceError(f"The “{name}” in this address must be a whole number, like 42.", 400) from None


def accepts_files(*fields: str):
    """Let a view take uploaded files, in these fields only."""
    def mark(view):
        view.upload_fields = frozenset(fields)
        return view
    return mark


def check_input() -> None:
    """before_request, the first one: refuse what no view can use."""
    if request.endpoint in (None, "static"):
        return
    texts = [*(request.view_args or {}).values(), *_pairs(request.args)]
    if request.method in SUBMIT_METHODS and request.blueprint not in JSON_BLUEPRINTS:
        texts += _form_texts()
    # A multipart part without a readable name has the name None.
    if any(not isinstance(t, str) or "\x00" in t for t in texts if not isinstance(t, int)):
        abort(400)


def _form_texts() -> list:
    """The form's names and values (415 if the body is no form; 400 for a stray file)."""
    if request.mimetype not in FORM_TYPES:
        if request.mimetype or request.content_length:
            abort(415)
        return []  # no body at all: a button
    allowed = getattr(current_app.view_functions[request.endpoint], "upload_fields", frozenset())
    if any(name not in allowed for name in request.files):
        abort(400)
    return [*_pairs(request.form), *(f.filename or "" for f in request.files.values())]


def _pairs(multidict) -> list:
    """Every name and every value, repeated names included."""
    return [text for pair in multidict.items(multi=True) for text in pair]


def register(app: Flask) -> None:
    """Before the blueprints: their rules take the converter when they are added. The
    check runs before every other hook, CSRF's included, which reads the form's names."""
    app.url_map.converters["int"] = DatabaseInteger
    app.before_request_funcs.setdefault(None, []).insert(0, check_input)
