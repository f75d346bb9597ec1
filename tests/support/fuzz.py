"""Hostile requests to every route, as every role (tests/test_fuzz.py, and a longer run
in tests/benchmarks/bench_fuzz.py).

Hypothesis draws a caller (anonymous, or signed in with one of the roles), a rule of
`app.url_map` (mostly one of the caller's own role, so the handlers run, not only the
access check), values for its path arguments, a query string and a body: a form with
the app's own field names and a valid CSRF token, JSON, multipart with files, a huge
body, binary or unicode. Values mix random text, integers past every database range,
malformed dates and cursors, and markers that would show if the page reflected them
without escaping. Every answer must be below 500, and an HTML answer must never carry
a marker as markup.
"""
from __future__ import annotations

import inspect
import io
import json
import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

from flask import Flask
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.routing import Rule
from wtforms.fields.core import UnboundField

from app.db import database
from app.models import Newsletter, Purpose, Role, User
from app.services.consent import preference_links
from app.services.demo import ALICE_EMAIL, seed_demo
from app.services.integrations.catalogue import INTEGRATIONS, PROVIDERS
from app.services.newsletters import unsubscribes
from app.services.rights.personal_data import registry_entries, slug_of
from app.web.access import PUBLIC
from tests.support.forms import TOKEN

ANONYMOUS = "anonymous"
SUBMIT = {"POST", "PUT", "PATCH", "DELETE"}
# What a page would carry if it put input into markup unescaped: a tag, or an
# attribute that broke out of its quotes. Escaped, they read `&lt;fz-x&gt;`, `&#34;fz=`.
MARKERS = ('<fz-x>', '"fz="1', "'fz='1")
REFLECTED = re.compile(r"<fz-x>|[\"']fz=")
EDGE_INTEGERS = (0, -1, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -2**63 - 1, 10**30)
GARBAGE = (*MARKERS, "</textarea><fz-x>", "{{7*7}}", "' OR '1'='1", "\x00", "%00", "%ff", "../../etc/passwd",
           "2026-02-30", "9999-12-31T23:59:59", "0001-01-01", "1e309", "NaN", "-0", "0x1f", "١٢٣", "\u202e",
           "a" * 300, "2026-01-01T00:00:00_9223372036854775808", "_", "T_", "null", "[]", "{}", "true",
           "a\x00b", "\ufeff", "\r\n")
PLAUSIBLE = ("alice@example.com", "new-person@example.org", "1", "2", "0", "y", "on", "2026-06-01", "2010-04-30",
             "A reason long enough for every validator, with its legal ground: Art. 17(3)(b).",
             "correct horse battery staple", "123456", "+44 20 7946 0000", "Europe/London", "en", "GB", "DE")
QUERY_NAMES = ("after", "before", "next", "code", "state", "error", "scope", "id", "ids")
READS = re.compile(r"""(?:args\.get|\ba\.get|int_arg|args\[)\(?["'](\w+)["']""")  # names a view module reads
CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=x",
                 "application/json", "text/plain; charset=utf-8", "application/octet-stream", "text/csv",
                 "application/xml", "image/png", "", "application/x-www-form-urlencoded; charset=utf-16")
HUGE_FORM_VALUE = 1_100_000  # past Werkzeug's limit on a form's text fields (500 KB)
HUGE_BODY = 21 * 1024 * 1024  # past the app's MAX_CONTENT_LENGTH (20 MB)


@dataclass
class Caller:
    name: str
    cookie: str  # the session cookie (holding the CSRF secret), set again before each request
    csrf: str
    own: list[Rule]  # the rules of the caller's role (for the anonymous caller, the public ones)
    public: list[Rule]


@dataclass
class Probe:
    """One generated request; its repr is what a failure prints."""
    caller: str
    method: str
    path: str
    query: str
    headers: dict
    body: dict = field(default_factory=dict)  # keyword arguments of client.open

    def __repr__(self):
        shown = {k: (v if len(repr(v)) < 400 else f"<{len(repr(v))} chars>") for k, v in self.body.items()}
        return f"{self.caller}: {self.method} {self.path}?{self.query[:300]!r} headers={self.headers} {shown}"


@dataclass
class Vocabulary:
    """Names and values the app itself uses, so generated input reaches real code."""
    path_values: dict[str, list]
    query_names: dict[str, list[str]]  # per endpoint: those its module reads, and a few others
    fields: list[str]
    values: list[str]  # that some field accepts: choices, purpose keys, an address, a date…


@dataclass
class Target:
    rules: list[Rule]
    callers: list[Caller]
    vocabulary: Vocabulary
    errors: ErrorLog

    @property
    def by_name(self) -> dict[str, Caller]:
        return {c.name: c for c in self.callers}


def fuzz_settings(examples: int) -> settings:
    """Derandomized, so a run is the same every time and cannot flake; no example
    database, no deadline (a PDF takes its time); no explain phase (slow tracing)."""
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), print_blob=False,
                    phases=(Phase.explicit, Phase.generate, Phase.shrink))


@contextmanager
def fuzz_target(app: Flask, client, login_as):
    """The demo's data (so small ids name real objects), real emailed links, and the
    callers; the app's logged tracebacks are kept to show with a 5xx."""
    with app.app_context(), database.connection_context():
        seed_demo(Path(app.instance_path))
        alice = User.by_email(ALICE_EMAIL)
        tokens = [preference_links.make_token(alice), unsubscribes.make_token(alice, Newsletter.select().first())]
        vocab = vocabulary(app, tokens)
    errors = ErrorLog()
    app.logger.addHandler(errors)
    logging.getLogger("flask_limiter").setLevel(logging.ERROR)  # its "limit exceeded" lines
    try:
        yield Target(list(app.url_map.iter_rules()), sign_in_callers(app, client, login_as), vocab, errors)
    finally:
        app.logger.removeHandler(errors)


class ErrorLog(logging.Handler):
    """Keeps the tracebacks the app logs, to show with a 5xx."""
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(logging.Formatter().format(record))


def form_fields() -> tuple[list[str], list[str]]:
    """Every field name of every form in the app, and every value of their fixed choices."""
    names, values, forms = {"csrf_token"}, set(), [FlaskForm]
    while forms:
        form = forms.pop()
        forms.extend(form.__subclasses__())
        for name in dir(form):
            unbound = getattr(form, name, None)
            if isinstance(unbound, UnboundField):
                names.add(name)
                choices = list(unbound.kwargs.get("choices") or [])[:12]  # not 600 time zones
                values |= {str(_choice_value(c)) for c in choices}
    return sorted(names), sorted(values)


def _choice_value(choice):
    """A WTForms choice: a SelectChoice, a (value, label) pair or a bare value."""
    if hasattr(choice, "value"):
        return choice.value
    return choice[0] if isinstance(choice, tuple) else choice


def vocabulary(app: Flask, tokens: list[str]) -> Vocabulary:
    keys = [p.key for p in Purpose.select()] + list(INTEGRATIONS)
    names, choices = form_fields()
    return Vocabulary(
        path_values={"key": keys, "slug": [slug_of(e) for e in registry_entries()], "provider": list(PROVIDERS),
                     "job_id": [j["id"] for j in app.extensions["scheduled_jobs"]()], "token": tokens,
                     "filename": ["css/app.css", "vendor/htmx.min.js", "../pyproject.toml", "%2e%2e/x"]},
        query_names={rule.endpoint: query_names_of(app.view_functions[rule.endpoint])
                     for rule in app.url_map.iter_rules()},
        fields=names, values=[*choices, *keys, *PLAUSIBLE])


def query_names_of(view) -> list[str]:
    """The query parameters the view's module reads (`request.args.get("q")`…), and a few more."""
    module = inspect.getmodule(inspect.unwrap(view))
    read = READS.findall(inspect.getsource(module)) if module.__name__.startswith("app.") else []
    return sorted(set(read) | set(QUERY_NAMES))


def access_of(app: Flask, rule: Rule):
    return getattr(app.view_functions[rule.endpoint], "access", PUBLIC)


def sign_in_callers(app: Flask, client, login_as, roles=tuple(Role)) -> list[Caller]:
    """The anonymous caller and one signed-in caller per role, all through `client`:
    each keeps its session cookie, set again before each of its requests."""
    rules = list(app.url_map.iter_rules())
    public = [r for r in rules if access_of(app, r) == PUBLIC]
    client.delete_cookie("session")
    token = _csrf_token(client, "/login")  # a visitor who opened the sign-in page
    callers = [Caller(ANONYMOUS, client.get_cookie("session").value, token, public, public)]
    for role in roles:
        client.delete_cookie("session")
        login_as(role)
        token = _csrf_token(client, "/privacy")
        own = [r for r in rules if access_of(app, r) != PUBLIC and role in access_of(app, r)]
        callers.append(Caller(role.value, client.get_cookie("session").value, token, own, public))
    client.delete_cookie("session")
    return callers


def _csrf_token(client, path: str) -> str:
    page = client.get(path)
    match = TOKEN.search(page.text)
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def refresh_sign_ins(client, callers: list[Caller]) -> None:
    """Pages asking for a recent sign-in (15 minutes) keep working in a long run."""
    for caller in callers:
        if caller.name == ANONYMOUS:
            continue
        client.set_cookie("session", caller.cookie)
        with client.session_transaction() as session:
            session["signed_in_at"] = int(time.time())
        caller.cookie = client.get_cookie("session").value


# --- strategies ----------------------------------------------------------------------

small_ids = st.integers(0, 12)  # the demo's objects, and some that do not exist
integers = st.one_of(small_ids, st.sampled_from(EDGE_INTEGERS), st.integers(-2**80, 2**80))
hostile = st.one_of(st.sampled_from(GARBAGE),
                    st.tuples(st.text(max_size=6), st.sampled_from(GARBAGE), st.text(max_size=6)).map("".join))
texts = st.one_of(st.text(max_size=30), hostile, hostile, integers.map(str), st.dates().map(str))


def values(vocab: Vocabulary) -> st.SearchStrategy[str]:
    """Half what some field accepts, so forms validate and handlers run; half hostile."""
    return st.one_of(st.sampled_from(vocab.values), texts)


def _known(choices: list) -> st.SearchStrategy:
    return st.sampled_from(choices) if choices else st.nothing()


def _path_value(converter: str, name: str, vocab: Vocabulary) -> st.SearchStrategy[str]:
    if converter == "int":
        return st.one_of(small_ids.map(str), small_ids.map(str), integers.filter(lambda n: n >= 0).map(str),
                         texts.map(lambda t: quote(t, safe="")))
    known = _known(vocab.path_values.get(name, []))
    safe = "/" if converter == "path" else ""
    return st.one_of(known, known, texts.filter(bool).map(lambda t: quote(t, safe=safe)),
                     st.sampled_from(["%ff", "%c0%ae", "%00", ".", ".."]))


ARGUMENT = re.compile(r"<(?:(\w+):)?(\w+)>")


@st.composite
def paths(draw, rule: Rule, vocab: Vocabulary) -> str:
    return ARGUMENT.sub(lambda m: draw(_path_value(m.group(1) or "string", m.group(2), vocab)), rule.rule)


@st.composite
def query_strings(draw, names: list[str], vocab: Vocabulary) -> str:
    pairs = draw(st.lists(st.tuples(st.one_of(st.sampled_from(names), st.text(max_size=8)), values(vocab)),
                          max_size=3))
    query = urlencode(pairs)
    if draw(st.integers(0, 9)) == 0:  # broken percent-encoding, bare keys, stray separators
        query += draw(st.sampled_from(["&after=%ff%fe", "&=&&", "&q", "&after=%", "&ids=1&ids=x"]))
    return query


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), integers, st.floats(allow_nan=False), texts),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@st.composite
def form_pairs(draw, vocab: Vocabulary, csrf: str) -> list[tuple[str, str]]:
    names = st.one_of(st.sampled_from(vocab.fields), st.sampled_from(vocab.fields), st.text(max_size=10))
    pairs = draw(st.lists(st.tuples(names, values(vocab)), max_size=8))
    if draw(st.integers(0, 9)):  # mostly a valid token, so the handler itself runs
        pairs.append(("csrf_token", csrf))
    return pairs


@st.composite
def bodies(draw, vocab: Vocabulary, csrf: str) -> dict:
    kind = draw(st.sampled_from(["form"] * 8 + ["json"] * 3 + ["multipart"] * 3 + ["binary", "unicode", "huge",
                                                                                   "none"]))
    if kind == "none":
        return {}
    if kind == "form":
        return {"data": MultiDict(draw(form_pairs(vocab, csrf)))}
    if kind == "json":
        value = draw(st.one_of(json_values, st.dictionaries(st.sampled_from(vocab.fields), json_values)))
        return {"data": json.dumps(value), "content_type": "application/json", "headers": {"X-CSRFToken": csrf}}
    if kind == "multipart":
        data = MultiDict(draw(form_pairs(vocab, csrf)))
        files = draw(st.lists(st.tuples(st.sampled_from(vocab.fields + ["file"]), st.binary(max_size=300),
                                        st.text(max_size=12)), min_size=1, max_size=3))
        for name, content, filename in files:
            data.add(name, (io.BytesIO(content), filename or "x.csv"))
        return {"data": data, "content_type": "multipart/form-data"}
    if kind == "huge":
        if draw(st.booleans()):
            return {"data": {"csrf_token": csrf, draw(st.sampled_from(vocab.fields)): "x" * HUGE_FORM_VALUE}}
        return {"data": b"\0" * HUGE_BODY, "content_type": draw(st.sampled_from(CONTENT_TYPES))}
    content = (draw(st.binary(max_size=400)) if kind == "binary"
               else draw(st.text(max_size=200)).encode("utf-8"))
    return {"data": content, "content_type": draw(st.sampled_from(CONTENT_TYPES)), "headers": {"X-CSRFToken": csrf}}


# What an HTTP server passes on (gunicorn refuses NUL, CR and LF; headers are bytes).
header_texts = texts.map(lambda t: "".join(c for c in t if " " <= c <= "\xff" and c != "\x7f"))
HEADERS = st.fixed_dictionaries({}, optional={
    "HX-Request": st.just("true"),
    "HX-Current-URL": header_texts,
    "Accept": st.sampled_from(["application/json", "text/html", "*/*", "garbage/;;", ""]),
    "Accept-Language": header_texts,
    "Referer": header_texts,
    "Authorization": st.one_of(header_texts, header_texts.map(lambda t: f"Bearer {t}")),
})


@st.composite
def probes(draw, callers: list[Caller], rules: list[Rule], vocab: Vocabulary) -> Probe:
    caller = draw(st.sampled_from(callers))
    # Mostly the caller's own pages, so the handlers run; then public ones; then any.
    pick = draw(st.integers(0, 9))
    rule = draw(st.sampled_from(caller.own if pick < 6 else caller.public if pick < 9 else rules))
    methods = sorted(rule.methods - {"OPTIONS"})  # mostly POST where there is one: that is where bodies go
    method = "POST" if "POST" in methods and draw(st.integers(0, 3)) else draw(st.sampled_from(methods))
    body = draw(bodies(vocab, caller.csrf)) if method in SUBMIT or draw(st.integers(0, 9)) == 0 else {}
    headers = {**draw(HEADERS), **body.pop("headers", {})}
    query = draw(query_strings(vocab.query_names[rule.endpoint], vocab))
    return Probe(caller.name, method, draw(paths(rule, vocab)), query, headers, body)


# --- sending and judging --------------------------------------------------------------

def send(client, callers: dict[str, Caller], probe: Probe) -> tuple[int, str]:
    """Send `probe` as its caller; the status and the problem with the answer, if any."""
    client.set_cookie("session", callers[probe.caller].cookie)
    with client.open(probe.path, method=probe.method, query_string=probe.query, headers=probe.headers,
                     **probe.body) as response:
        body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        status = response.status_code
    if status >= 500:
        return status, f"answered {status}"
    if REFLECTED.search(body):
        at = REFLECTED.search(body).start()
        return status, f"reflected input unescaped: …{body[max(0, at - 120):at + 40]}…"
    return status, ""
