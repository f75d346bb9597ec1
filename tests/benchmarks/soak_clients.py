"""The people of the soak test (bench_soak.py): each one a thread with its own cookies
and connection, doing what that person does through the real HTTP stack, at a human
pace. Every exchange is timed and kept in a Log; an answer that is not what the person
expects is kept as a problem, and the person carries on."""
from __future__ import annotations

import http.client
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import cycle
from typing import Callable, Iterator
from urllib.parse import urlencode

import pyotp
from urllib3 import encode_multipart_formdata

from app.db import database
from app.models import IssueStatus, NewsletterIssue, PrivacyRequest, SubscriberImport, User

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ONE_CLICK_DONE = "You are unsubscribed.\n"
TOGGLED = ("click_tracking", "sms_marketing", "partner_sharing")  # off by default, none with side effects


@dataclass(frozen=True)
class Exchange:
    """One request as its client saw it; status 0: no answer at all."""
    actor: str
    what: str
    started: float  # time.monotonic()
    seconds: float
    status: int

    @property
    def ended(self) -> float:
        return self.started + self.seconds


@dataclass
class Log:
    """What every client did, and what each person saw that they should not have."""
    exchanges: list[Exchange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unsubscribed: list[int] = field(default_factory=list)   # people whose one-click POST was answered
    decided: dict[int, tuple[str, str]] = field(default_factory=dict)  # request id: (decision, person's email)
    filed: dict[int, str] = field(default_factory=dict)     # request id: person's email
    exports_asked: list[int] = field(default_factory=list)  # people who asked for an export
    exports_downloaded: int = 0
    sweep_run: int | None = None
    import_id: int | None = None
    issue_id: int | None = None

    def problem(self, actor: str, what: str) -> None:
        self.problems.append(f"{actor}: {what}")


class Unexpected(Exception):
    """An answer the person did not expect (the exchange itself is already logged)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: http.client.HTTPMessage

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class Browser:
    """One person's browser: cookies and one keep-alive connection; every exchange timed."""

    def __init__(self, port: int, log: Log, actor: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.log, self.actor, self.cookies = log, actor, {}

    def close(self) -> None:
        self.conn.close()

    def send(self, method: str, path: str, form: dict | None = None, *, what: str, body: bytes | None = None,
             content_type: str | None = None, htmx: bool = False, expect: tuple[int, ...] = (200,)) -> Answer:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if form is not None:
            body, content_type = urlencode(form, doseq=True).encode(), "application/x-www-form-urlencoded"
        if content_type:
            headers["Content-Type"] = content_type
        if htmx:
            headers["HX-Request"] = "true"
        started = time.monotonic()
        try:
            answer = self._exchange(method, path, body, headers)
        except (OSError, http.client.HTTPException) as e:
            self.log.exchanges.append(Exchange(self.actor, what, started, time.monotonic() - started, 0))
            raise Unexpected(f"{what}: no answer ({type(e).__name__}: {e})") from e
        self.log.exchanges.append(Exchange(self.actor, what, started, time.monotonic() - started, answer.status))
        for header in answer.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";")[0]
        if answer.status not in expect:
            raise Unexpected(f"{what}: {answer.status}, expected {expect}: {answer.text[:200]!r}")
        return answer

    def _exchange(self, method, path, body, headers) -> Answer:
        """A keep-alive connection the server closed meanwhile is reopened once."""
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return Answer(response.status, response.read(), response.headers)
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                if attempt == 2:
                    raise

    def form_token(self, path: str, what: str, htmx: bool = False) -> str:
        """GET a page and read its CSRF token, as a browser shows the form first."""
        page = self.send("GET", path, what=what, htmx=htmx)
        match = CSRF.search(page.text)
        if not match:
            raise Unexpected(f"{what}: no CSRF token on {path}")
        return match.group(1)

    def sign_in(self, email: str, password: str, totp_secret: str | None = None) -> None:
        csrf = self.form_token("/login", "GET /login")
        self.send("POST", "/login", {"csrf_token": csrf, "email": email, "password": password},
                  what="POST /login", expect=(303,))
        if totp_secret:
            csrf = self.form_token("/login/two-factor", "GET /login/two-factor")
            self.send("POST", "/login/two-factor", {"csrf_token": csrf, "code": pyotp.TOTP(totp_secret).now()},
                      what="POST /login/two-factor", expect=(303,))


def location_id(answer: Answer, pattern: str) -> int:
    match = re.search(pattern, answer.location)
    if not match:
        raise Unexpected(f"redirected to {answer.location!r}, not {pattern}")
    return int(match.group(1))


class Person(threading.Thread):
    """A client thread: `act()`, then `pace` seconds' rest, until the soak stops.
    `started` (time.monotonic) is set when the soak starts, for the steps that happen
    part-way through a soak of `seconds`."""
    pace = 1.0

    def __init__(self, name: str, port: int, log: Log, stop: threading.Event, seconds: float):
        super().__init__(name=name, daemon=True)
        self.port, self.log, self.stop, self.seconds, self.started = port, log, stop, seconds, time.monotonic()

    def at(self, share: float) -> bool:
        """True once `share` of the soak's duration has passed."""
        return time.monotonic() - self.started >= share * self.seconds

    def run(self) -> None:
        with database.connection_context():  # the few people who look things up do it on their own connection
            while not self.stop.is_set():
                self.attempt(self.act)
                self.stop.wait(self.pace)
            self.attempt(self.leave)

    def attempt(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Unexpected as e:
            self.log.problem(self.name, str(e))
        except Exception as e:  # a fault of the harness or of the database: kept, and the person carries on
            self.log.problem(self.name, f"{type(e).__name__}: {e}")

    def act(self) -> None:
        raise NotImplementedError

    def leave(self) -> None:
        pass


class Toggler(Person):
    """A signed-in person flipping switches on their preferences page (htmx POSTs)."""
    pace = 0.25

    def __init__(self, *args, email: str, password: str):
        super().__init__(*args)
        self.browser = Browser(self.port, self.log, self.name)
        self.browser.sign_in(email, password)
        self.csrf = self.browser.form_token("/preferences", "GET /preferences")
        self.granted = {key: False for key in TOGGLED}
        self.next_key = cycle(TOGGLED)

    def act(self) -> None:
        key = next(self.next_key)
        wanted = not self.granted[key]
        answer = self.browser.send("POST", f"/preferences/{key}",
                                   {"csrf_token": self.csrf, "granted": "1" if wanted else "0"},
                                   what="POST /preferences/<key>", htmx=True)
        if f'aria-checked="{"true" if wanted else "false"}"' not in answer.text:
            raise Unexpected(f"{key} switched to {wanted}, the fragment says otherwise")
        self.granted[key] = wanted

    def leave(self) -> None:
        self.browser.close()


class Unsubscriber(Person):
    """A mailbox provider sending RFC 8058 one-click unsubscribes, one person after another."""
    pace = 0.25

    def __init__(self, *args, tokens: Iterator[tuple[int, str]]):
        super().__init__(*args)
        self.tokens, self.browser = tokens, Browser(self.port, self.log, self.name)

    def act(self) -> None:
        person, token = next(self.tokens)
        answer = self.browser.send("POST", f"/u/{token}", what="POST /u/<token>", body=b"List-Unsubscribe=One-Click",
                                   content_type="application/x-www-form-urlencoded")
        if answer.text != ONE_CLICK_DONE:
            raise Unexpected(f"one-click answered {answer.text[:100]!r}")
        self.log.unsubscribed.append(person)

    def leave(self) -> None:
        self.browser.close()


class OneAfterAnother(Person):
    """People taken one after another, each signing in with a fresh browser for one act."""

    def __init__(self, *args, people: Iterator[tuple[int, str]], password: str):
        super().__init__(*args)
        self.people, self.password = people, password

    @contextmanager
    def next_person(self):
        """(person id, email, a browser signed in as them), closed afterwards."""
        person, email = next(self.people)
        browser = Browser(self.port, self.log, self.name)
        try:
            browser.sign_in(email, self.password)
            yield person, email, browser
        finally:
            browser.close()


class Exporter(OneAfterAnother):
    """People, one after another, asking for their data export, watching it being built
    (the page polls every second) and downloading it."""
    pace = 10.0
    WAIT = 90.0  # then the person gives up watching; the checks afterwards still expect it

    def act(self) -> None:
        with self.next_person() as (person, email, browser):
            csrf = browser.form_token("/my-data/", "GET /my-data/")
            browser.send("POST", "/my-data/export", {"csrf_token": csrf}, what="POST /my-data/export", htmx=True)
            self.log.exports_asked.append(person)
            link = self._watch(browser)
            if link:
                archive = browser.send("GET", link, what="GET /my-data/exports/<id>/download")
                if not archive.body.startswith(b"PK"):
                    raise Unexpected("the download is not a ZIP archive")
                self.log.exports_downloaded += 1

    def _watch(self, browser: Browser) -> str | None:
        deadline = time.monotonic() + self.WAIT
        while time.monotonic() < deadline and not self.stop.is_set():
            panel = browser.send("GET", "/my-data/export/status", what="GET /my-data/export/status", htmx=True)
            found = re.search(r'href="(/my-data/exports/\d+/download)"', panel.text)
            if found:
                return found.group(1)
            self.stop.wait(1.0)
        return None


class Requester(OneAfterAnother):
    """People, one after another, filing a restriction or a correction request."""
    pace = 20.0
    KINDS = cycle(("restriction", "rectification"))

    def act(self) -> None:
        with self.next_person() as (person, email, browser):
            kind = next(self.KINDS)
            csrf = browser.form_token(f"/requests/?kind={kind}", "GET /requests/")
            browser.send("POST", "/requests/", {"csrf_token": csrf, "kind": kind,
                                                "details": "Please check the address you hold for me."},
                         what="POST /requests/", expect=(303,))
            filed = PrivacyRequest.select(PrivacyRequest.id).where(PrivacyRequest.user == person).scalar()
            self.log.filed[filed] = email


class Dpo(Person):
    """The DPO working the queue: one decision every `pace` seconds, oldest first
    (erasures and restrictions approved, corrections refused), a look at the dashboard
    now and then, and a retention sweep started from /dpo/retention part-way through."""
    pace = 10.0
    SWEEP_AT = 0.45
    REFUSAL = "We could not match the correction to the records we hold; send us a document that shows it."

    def __init__(self, *args, email: str, password: str, totp_secret: str):
        super().__init__(*args)
        self.browser = Browser(self.port, self.log, self.name)
        self.browser.sign_in(email, password, totp_secret)
        self.rounds, self.tried = 0, set()

    def act(self) -> None:
        self.rounds += 1
        self.browser.send("GET", "/dpo/requests", what="GET /dpo/requests")
        if self.rounds % 5 == 0:
            self.browser.send("GET", "/dpo/", what="GET /dpo/")
        if self.log.sweep_run is None and self.at(self.SWEEP_AT):
            self._sweep()
        elif self.log.sweep_run is not None:
            self.browser.send("GET", f"/dpo/retention/runs/{self.log.sweep_run}", what="GET /dpo/retention/runs/<id>",
                              htmx=True)
        self._decide_next()

    def _sweep(self) -> None:
        csrf = self.browser.form_token("/dpo/retention", "GET /dpo/retention")
        started = self.browser.send("POST", "/dpo/retention/run", {"csrf_token": csrf, "category": ""},
                                    what="POST /dpo/retention/run", expect=(303,))
        self.log.sweep_run = location_id(started, r"/dpo/retention/runs/(\d+)")

    def _decide_next(self) -> None:
        waiting = (PrivacyRequest.select(PrivacyRequest, User).join(User)
                   .where(PrivacyRequest.status == "pending_review", PrivacyRequest.id.not_in(self.tried or [0]))
                   .order_by(PrivacyRequest.id).first())
        if waiting is None:
            return
        self.tried.add(waiting.id)
        page = f"/dpo/requests/{waiting.id}"
        csrf = self.browser.form_token(page, "GET /dpo/requests/<id>")
        if waiting.kind == "rectification":
            decision, form = "refused", {"csrf_token": csrf, "reason": self.REFUSAL}
            self.browser.send("POST", f"{page}/deny", form, what="POST /dpo/requests/<id>/deny", expect=(303,))
        else:
            decision, form = "approved", {"csrf_token": csrf}
            self.browser.send("POST", f"{page}/approve", form, what="POST /dpo/requests/<id>/approve", expect=(303,))
        self.log.decided[waiting.id] = (decision, waiting.user.email)
        self.browser.send("GET", page, what="GET /dpo/requests/<id>")

    def leave(self) -> None:
        self.browser.close()


class Sales(Person):
    """Sales ops: early on, a subscriber import through the upload, mapping, dry run and
    start pages; at a quarter of the soak, a newsletter issue composed and sent; and in
    between, the progress pages those show (polled, as htmx does)."""
    pace = 3.0
    IMPORT_AT, SEND_AT = 0.02, 0.25

    def __init__(self, *args, email: str, password: str, csv_path, import_newsletter: int, newsletter: int):
        super().__init__(*args)
        self.csv_path, self.import_newsletter, self.newsletter = csv_path, import_newsletter, newsletter
        self.browser = Browser(self.port, self.log, self.name)
        self.browser.sign_in(email, password)

    def act(self) -> None:
        if self.log.import_id is None and self.at(self.IMPORT_AT):
            self._import()
        elif self.log.issue_id is None and self.at(self.SEND_AT):
            self._send()
        else:
            self._watch()

    def _import(self) -> None:
        page = f"/sales/newsletters/{self.import_newsletter}/import"
        csrf = self.browser.form_token(page, "GET /sales/newsletters/<id>/import")
        body, content_type = encode_multipart_formdata(
            {"csrf_token": csrf, "file": (self.csv_path.name, self.csv_path.read_bytes(), "text/csv")})
        uploaded = self.browser.send("POST", page, what="POST /sales/newsletters/<id>/import (upload)", body=body,
                                     content_type=content_type, expect=(303,))
        import_id = location_id(uploaded, r"/sales/imports/(\d+)")
        preview = f"/sales/imports/{import_id}"
        csrf = self.browser.form_token(preview, "GET /sales/imports/<id>")
        self.browser.send("POST", preview, {"csrf_token": csrf, "email": 0, "evidence": 1, "name": 2, "birth": -1},
                          what="POST /sales/imports/<id> (dry run)", expect=(303,))
        csrf = self.browser.form_token(preview, "GET /sales/imports/<id>")
        self.browser.send("POST", f"{preview}/start", {"csrf_token": csrf}, what="POST /sales/imports/<id>/start",
                          expect=(303,))
        self.log.import_id = import_id

    def _send(self) -> None:
        page = f"/sales/newsletters/{self.newsletter}/issues"
        csrf = self.browser.form_token(page, "GET /sales/newsletters/<id>/issues")
        composed = self.browser.send("POST", page, {"csrf_token": csrf, "subject": "Soak news: the spring issue",
                                                    "body": "What is new this spring: https://example.com/spring"},
                                     what="POST /sales/newsletters/<id>/issues", expect=(303,))
        issue_id = location_id(composed, r"/sales/issues/(\d+)")
        csrf = self.browser.form_token(f"/sales/issues/{issue_id}", "GET /sales/issues/<id>")
        self.browser.send("POST", f"/sales/issues/{issue_id}/send", {"csrf_token": csrf},
                          what="POST /sales/issues/<id>/send", expect=(303,))
        self.log.issue_id = issue_id

    def _watch(self) -> None:
        imp = self.log.import_id and SubscriberImport.get_by_id(self.log.import_id)
        if imp and imp.status != "done":
            self.browser.send("GET", f"/sales/imports/{imp.id}/progress", what="GET /sales/imports/<id>/progress",
                              htmx=True)
        issue = self.log.issue_id and NewsletterIssue.get_by_id(self.log.issue_id)
        if issue and issue.status != IssueStatus.SENT.value:
            self.browser.send("GET", f"/sales/issues/{issue.id}", what="GET /sales/issues/<id>", htmx=True)
        if not (imp and imp.status != "done") and not (issue and issue.status != IssueStatus.SENT.value):
            self.browser.send("GET", "/sales/newsletters", what="GET /sales/newsletters")

    def leave(self) -> None:
        self.browser.close()

