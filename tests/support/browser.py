"""Playwright driving Debian's Chromium, plus an axe-core check."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
AXE_SOURCE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# How long a browser test waits for something it started (an htmx exchange, a page
# load, a job its page polls) before calling the page hung. Not a speed budget: a
# correct run on a loaded machine never comes near it; it only keeps a broken page
# from hanging the suite. Tests wait for the exchange itself, never for a time.
HANG_GUARD_MS = 120_000


@contextmanager
def htmx_exchange(page, path: str):
    """Wait, once the block is done, for the htmx exchange it started: the response to a
    request whose URL contains `path`, then htmx's `afterSettle` for that request, so the
    swapped content is in place (classes settled) before the test looks at it."""
    page.evaluate("""(path) => {
        window.__pccSettled = false;
        const settled = (event) => {
            const info = event.detail.pathInfo || {};
            if ((info.finalRequestPath || info.requestPath || "").includes(path)) {
                document.removeEventListener("htmx:afterSettle", settled);
                window.__pccSettled = true;
            }
        };
        document.addEventListener("htmx:afterSettle", settled);
    }""", path)
    with page.expect_response(lambda r: path in r.url and r.request.headers.get("hx-request") == "true",
                              timeout=HANG_GUARD_MS):
        yield
    page.wait_for_function("() => window.__pccSettled === true", timeout=HANG_GUARD_MS)


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core in the page; return violations of the given impacts.
    Evaluated through the DevTools protocol, so our strict CSP need not be relaxed."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "targets": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in impacts
    ]


def assert_accessible(page) -> None:
    bad = axe_violations(page)
    assert not bad, f"axe-core found serious/critical violations on {page.url}: {bad}"


def sign_in(page, email: str, password: str, totp_secret: str | None = None) -> None:
    """Sign in through the real forms; staff pass their TOTP secret."""
    import pyotp
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    if totp_secret:
        page.get_by_label("6-digit code").fill(pyotp.TOTP(totp_secret).now())
        page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
