"""Page speed as ratios against a baseline measured in the same run (`make bench`).

Baseline: GET /healthz (one trivial query through the whole stack). Targets:
- the end user's home, which walks the whole personal-data registry, stays within
  BUDGET_PORTAL times the baseline;
- the admin's user list answers a page deep in 20,000 users about as fast as the
  first page (keyset pagination), within BUDGET_DEEP_PAGE times.
"""
import statistics
import time
from pathlib import Path

import pytest

from app import create_app
from app.db import database, upgrade
from app.models import Role, User
from app.services.accounts.auth import totp_for
from app.services.demo import DEMO_TOTP_SECRET, seed_demo
from tests.benchmarks.summary import ms, record
from tests.support.forms import post_form

EXTRA_USERS = 20_000
BUDGET_PORTAL = 12
BUDGET_DEEP_PAGE = 2.0


def median_seconds(client, url: str, rounds: int = 60) -> float:
    client.get(url)  # warm up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, url
    return statistics.median(samples)


@pytest.fixture(scope="module")
def big_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
                      "INSTANCE_PATH": str(tmp)})
    with app.app_context(), database.connection_context():
        upgrade()
        seed_demo(Path(app.instance_path))
        rows = [{"email": f"bulk{i}@example.net", "role": Role.SUBJECT.value, "name": f"Bulk {i}"}
                for i in range(EXTRA_USERS)]
        with database.atomic():
            for start in range(0, len(rows), 500):
                User.insert_many(rows[start:start + 500]).execute()
    return app


def signed_in(app, email):
    client = app.test_client()
    response = post_form(client, "/login", {"email": email, "password": "demo"})
    if response.headers["Location"].startswith("/login/two-factor"):
        post_form(client, "/login/two-factor", {"code": totp_for(DEMO_TOTP_SECRET).now()})
    return client


def test_pages_against_the_health_check_baseline(big_app, capsys):
    alice = signed_in(big_app, "alice@example.com")
    admin = signed_in(big_app, "admin@example.com")
    with database.connection_context():
        deep_cursor = User.select(User.id).order_by(User.id).limit(1).offset(100).scalar()
    baseline = median_seconds(alice, "/healthz")
    portal = median_seconds(alice, "/portal/")
    first = median_seconds(admin, "/admin/users")
    deep = median_seconds(admin, f"/admin/users?after={deep_cursor}")
    with capsys.disabled():
        print(f"\n  baseline /healthz          {baseline * 1000:7.2f} ms  (1.0x)")
        print(f"  /portal/ (registry walk)  {portal * 1000:7.2f} ms  ({portal / baseline:.1f}x baseline, budget {BUDGET_PORTAL}x)")
        print(f"  /admin/users first page   {first * 1000:7.2f} ms  ({first / baseline:.1f}x baseline)")
        print(f"  /admin/users deep page    {deep * 1000:7.2f} ms  ({deep / first:.2f}x first page, budget {BUDGET_DEEP_PAGE}x)")
    record("/portal/ page (registry walk)", f"/healthz {ms(baseline)}", ms(portal), f"{portal / baseline:.1f}x",
           f"< {BUDGET_PORTAL}x", portal / baseline < BUDGET_PORTAL)
    record("/admin/users deep page (keyset)", f"first page {ms(first)}", ms(deep), f"{deep / first:.2f}x",
           f"< {BUDGET_DEEP_PAGE}x", deep / first < BUDGET_DEEP_PAGE)
    assert portal / baseline < BUDGET_PORTAL
    assert deep / first < BUDGET_DEEP_PAGE
