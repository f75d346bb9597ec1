"""What every page shares: health check, headers, CSRF, error pages, htmx fragments."""
import re

from app import create_app
from app.models import Role
from app.web.headers import CONTENT_SECURITY_POLICY
from tests.support.forms import post_form


def test_health_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path),
                      "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/nothing"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "http" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.text and " style=" not in response.text


def test_pages_load_htmx_from_our_own_static_folder(client):
    html = client.get("/login").text
    assert 'src="/static/vendor/htmx.min.js"' in html
    with client.get("/static/vendor/htmx.min.js") as js:
        assert js.status_code == 200 and b"htmx" in js.data


def test_a_form_without_its_csrf_token_is_refused(client):
    response = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    assert "Reload the page and submit it again" in response.text


def test_unknown_pages_get_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.text and "<html" in response.text


def test_json_clients_get_json_errors(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.json["status"] == 404


def test_htmx_gets_only_the_fragment_and_browsers_the_page(client, login_as, make_user):
    login_as(Role.ADMIN)
    make_user(Role.SUBJECT, email="findme@example.com")
    full = client.get("/admin/users?q=findme")
    fragment = client.get("/admin/users?q=findme", headers={"HX-Request": "true"})
    assert "<html" in full.text and "findme@example.com" in full.text
    assert "<html" not in fragment.text and "findme@example.com" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]
    restore = client.get("/admin/users", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


def test_user_list_pages_by_keyset(client, login_as, make_user):
    login_as(Role.ADMIN)
    for i in range(30):
        make_user(Role.SUBJECT, email=f"page{i:02}@example.com", password_hash=None)
    first = client.get("/admin/users?role=subject").text
    assert "page29@example.com" in first and "page04@example.com" not in first
    assert "Next page" in first
    after = re.search(r'after=(\d+)', first).group(1)
    second = client.get(f"/admin/users?role=subject&after={after}").text
    assert "page04@example.com" in second and "page29@example.com" not in second


def test_flash_after_logout(client, login_as):
    login_as(Role.SUBJECT)
    response = post_form(client, "/logout", token_from="/portal/", follow_redirects=True)
    assert "You are signed out." in response.text


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app, db):
    from app.db import is_postgres
    if is_postgres():
        assert int(db.execute_sql("SHOW server_version_num").fetchone()[0]) >= 130000
        return
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_an_unexpected_error_gets_a_friendly_500(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")
    boom.access = "public"
    app.logger.disabled = True
    response = client.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text and "boom" not in response.text


def test_form_fields_carry_no_empty_attributes(client):
    html = client.get("/login").text
    assert '="None"' not in html
    assert 'autocomplete="current-password"' in html


def test_an_expired_session_sends_htmx_to_the_login_page_not_into_a_fragment(client):
    response = client.get("/admin/users?q=x", headers={"HX-Request": "true",
                                                        "HX-Current-URL": "http://localhost/admin/users?q=x"})
    assert response.status_code == 401 and response.text == ""
    assert response.headers["HX-Redirect"] == "/login?next=/admin/users?q%3Dx"


def test_htmx_errors_go_to_the_pages_error_region(client, login_as):
    login_as(Role.SUBJECT)
    response = client.get("/admin/users", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#htmx-error" and "<html" not in response.text
    assert 'id="htmx-error"' in client.get("/portal/").text
