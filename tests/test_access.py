"""Every route, every role: who gets in, who is sent to sign in, who is refused."""
import pytest

from app.models import Role
from app.web.access import PUBLIC

ROLES = list(Role)
# The expected rule for each endpoint, written out by hand so that a route whose
# protection changes, or a new route nobody listed, fails here.
EXPECTED = {
    "auth.index": PUBLIC,
    "auth.login": PUBLIC,
    "auth.sign_in_link": PUBLIC,
    "auth.link_sent": PUBLIC,
    "auth.redeem_link": PUBLIC,
    "auth.totp": PUBLIC,
    "auth.totp_setup": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.sign_in_with": PUBLIC,  # signing in with a provider (OpenID Connect)
    "auth.signed_in_with": PUBLIC,
    "system.healthz": PUBLIC,
    "privacy.notice": PUBLIC,  # the public privacy notice
    "children.report": PUBLIC,  # a parent reports a child's data, without an account
    "children.report_sent": PUBLIC,
    "children.confirm_report": PUBLIC,  # the signed emailed link is the proof
    "children.parent_consent": PUBLIC,  # the signed link mailed to the parent is the proof
    "children.ask_parent": {Role.SUBJECT},
    "children.birth_date": {Role.SUBJECT},
    "static": PUBLIC,
    "portal.home": {Role.SUBJECT},
    "my_data.overview": {Role.SUBJECT},
    "my_data.category": {Role.SUBJECT},
    "my_data.start_export": {Role.SUBJECT},
    "my_data.export_status": {Role.SUBJECT},
    "my_data.download_export": {Role.SUBJECT},
    "my_data.profile": {Role.SUBJECT},
    "privacy_requests.index": {Role.SUBJECT},
    "integrations.index": {Role.SUBJECT},
    "integrations.connect": {Role.SUBJECT},
    "integrations.callback": {Role.SUBJECT},
    "integrations.direction": {Role.SUBJECT},
    "integrations.sync_now": {Role.SUBJECT},
    "integrations.sheet_import": {Role.SUBJECT},
    "integrations.disconnect": {Role.SUBJECT},
    "integrations.disconnection": {Role.SUBJECT},
    "privacy_requests.file": {Role.SUBJECT},
    "privacy_requests.cancel": {Role.SUBJECT},
    "privacy_requests.confirm": PUBLIC,  # the signed emailed link is the proof
    "preferences.page": {Role.SUBJECT},
    "preferences.toggle": {Role.SUBJECT},
    "preferences.stop_marketing": {Role.SUBJECT},
    "preferences.device_push": {Role.SUBJECT},
    "preferences.all_devices_push": {Role.SUBJECT},
    "preferences.history": {Role.SUBJECT},
    "preferences.receipt": {Role.SUBJECT},
    "preferences.link_page": PUBLIC,  # the signed token is the credential
    "preferences.link_toggle": PUBLIC,
    "preferences.link_stop_marketing": PUBLIC,
    "preferences.fresh_link": PUBLIC,
    "dpo.home": {Role.DPO, Role.ADMIN},
    "dpo.verify_audit": {Role.DPO, Role.ADMIN},
    "dpo.metrics_csv": {Role.DPO, Role.ADMIN},
    "dpo.audit_log": {Role.DPO, Role.ADMIN},
    "dpo.registry": {Role.DPO, Role.ADMIN},
    "dpo.request_queue": {Role.DPO, Role.ADMIN},
    "dpo.request_detail": {Role.DPO, Role.ADMIN},
    "dpo.approve": {Role.DPO, Role.ADMIN},
    "dpo.complete": {Role.DPO, Role.ADMIN},
    "dpo.deny": {Role.DPO, Role.ADMIN},
    "dpo.extend": {Role.DPO, Role.ADMIN},
    "dpo.assign": {Role.DPO, Role.ADMIN},
    "dpo.set_jurisdiction": {Role.DPO, Role.ADMIN},
    "dpo.add_note": {Role.DPO, Role.ADMIN},
    "dpo.bulk": {Role.DPO, Role.ADMIN},
    "dpo.retention_policies": {Role.DPO, Role.ADMIN},
    "dpo.retention_policy": {Role.DPO, Role.ADMIN},
    "dpo.retention_run": {Role.DPO, Role.ADMIN},
    "dpo.retention_runs": {Role.DPO, Role.ADMIN},
    "dpo.retention_run_detail": {Role.DPO, Role.ADMIN},
    "dpo.subprocessors_register": {Role.DPO, Role.ADMIN},
    "dpo.subprocessor_new": {Role.DPO, Role.ADMIN},
    "dpo.subprocessor_detail": {Role.DPO, Role.ADMIN},
    "dpo.subprocessor_remove": {Role.DPO, Role.ADMIN},
    "admin.scheduled_jobs": {Role.ADMIN},
    "admin.run_scheduled_job": {Role.ADMIN},
    "sales.home": {Role.SALES_OPS},
    "sales.issue_list": {Role.SALES_OPS},
    "sales.issue_detail": {Role.SALES_OPS},
    "sales.issue_send": {Role.SALES_OPS},
    "unsubscribe.page": PUBLIC,  # the signed token in the email is the credential
    "unsubscribe.submit": PUBLIC,  # RFC 8058 one-click: no cookie, no login
    "tracking.clicked": PUBLIC,  # followed from a mail client
    "tracking.opened": PUBLIC,
    "sales.newsletter_list": {Role.SALES_OPS},
    "sales.suppression_list": {Role.SALES_OPS},
    "sales.suppression_add": {Role.SALES_OPS},
    "sales.suppression_remove": {Role.SALES_OPS},
    "sales.newsletter_new": {Role.SALES_OPS},
    "sales.newsletter_edit": {Role.SALES_OPS},
    "sales.newsletter_archive": {Role.SALES_OPS},
    "sales.newsletter_detail": {Role.SALES_OPS},
    "sales.subscriber_add": {Role.SALES_OPS},
    "sales.import_upload": {Role.SALES_OPS},
    "sales.import_preview": {Role.SALES_OPS},
    "sales.import_start": {Role.SALES_OPS},
    "sales.import_progress": {Role.SALES_OPS},
    "sales.import_rejected": {Role.SALES_OPS},
    "newsletter_signup.confirm": PUBLIC,
    "admin.users": {Role.ADMIN},
    "admin.purposes": {Role.ADMIN},
    "admin.edit_purpose": {Role.ADMIN},
    "admin.api_keys": {Role.ADMIN},
    "admin.revoke_key": {Role.ADMIN},
    "api.consent": PUBLIC,  # an API key, not a session, is the credential
    "api.openapi": PUBLIC,
    "customer.home": {Role.CUSTOMER_ADMIN},
    "customer.dpa_list": {Role.CUSTOMER_ADMIN},
    "customer.dpa_new": {Role.CUSTOMER_ADMIN},
    "customer.dpa_detail": {Role.CUSTOMER_ADMIN},
    "customer.dpa_edit": {Role.CUSTOMER_ADMIN},
    "customer.dpa_preview": {Role.CUSTOMER_ADMIN},
    "customer.dpa_generate": {Role.CUSTOMER_ADMIN},
    "customer.dpa_sign": {Role.CUSTOMER_ADMIN},
    "customer.dpa_download": {Role.CUSTOMER_ADMIN},
    "customer.notices": {Role.CUSTOMER_ADMIN},
    "customer.notice_object": {Role.CUSTOMER_ADMIN},
    "customer.start_export": {Role.CUSTOMER_ADMIN},
    "customer.export_status": {Role.CUSTOMER_ADMIN},
    "customer.download_export": {Role.CUSTOMER_ADMIN},
    "dpo.subprocessor_objections": {Role.DPO, Role.ADMIN},
    "dpo.dpa_list": {Role.DPO, Role.ADMIN},
    "dpo.dpa_detail": {Role.DPO, Role.ADMIN},
    "dpo.dpa_countersign": {Role.DPO, Role.ADMIN},
    "dpo.dpa_download": {Role.DPO, Role.ADMIN},
    "dpo.restrictions_list": {Role.DPO, Role.ADMIN},
    "dpo.restriction_lift": {Role.DPO, Role.ADMIN},
}
# Routes naming an object by id: the sample id belongs to nobody, so even the right
# role gets "not found" (the same answer as for someone else's object).
OBJECT_ROUTES = {"sales.import_upload", "sales.import_preview", "sales.import_progress", "sales.import_rejected",
                 "sales.issue_list", "sales.issue_detail", "my_data.download_export", "dpo.request_detail", "sales.newsletter_detail", "sales.newsletter_edit",
                 "dpo.retention_policy", "dpo.retention_run_detail", "integrations.connect", "integrations.callback",
                 "integrations.disconnection", "dpo.subprocessor_detail", "dpo.subprocessor_remove"}
OBJECT_ROUTES |= {"customer.dpa_detail", "customer.dpa_edit", "customer.dpa_preview", "customer.dpa_download",
                  "dpo.dpa_detail", "dpo.dpa_download"}
OBJECT_ROUTES |= {"customer.notice_object", "customer.download_export", "dpo.restriction_lift"}
SAMPLE_ARGS = {"token": "not-a-real-token", "filename": "css/app.css", "key": "marketing_email", "device_id": 1,
               "key_id": 1, "slug": "lead", "export_id": 1,
               "request_id": 999, "import_id": 999, "issue_id": 1, "newsletter_id": 1, "policy_id": 999,
               "run_id": 999, "job_id": "enforce_retention",
               "connection_id": 999, "deletion_id": 999, "provider": "google", "subprocessor_id": 999,
               "dpa_id": 999, "version": 1, "notice_id": 999, "restriction_id": 999}


def get_routes(app):
    with app.test_request_context():
        return [(rule.endpoint, app.url_for(rule.endpoint, **{a: SAMPLE_ARGS[a] for a in rule.arguments}))
                for rule in app.url_map.iter_rules() if "GET" in rule.methods]


def test_every_route_is_listed_here_and_declares_its_rule(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == set(EXPECTED)
    for endpoint, expected in EXPECTED.items():
        if endpoint != "static":
            declared = app.view_functions[endpoint].access
            assert declared == (expected if expected == PUBLIC else frozenset(expected)), endpoint


def test_without_a_login_every_private_page_redirects_to_login(app, client):
    for endpoint, url in get_routes(app):
        if EXPECTED[endpoint] == PUBLIC:
            continue
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_each_role_reaches_its_pages_and_is_refused_the_others(app, client, login_as, role):
    login_as(role)
    for endpoint, url in get_routes(app):
        rule = EXPECTED[endpoint]
        with client.get(url) as response:
            check_outcome(role, rule, url, response, endpoint in OBJECT_ROUTES)


def check_outcome(role, rule, url, response, names_an_object=False):
    if rule == PUBLIC:
        assert response.status_code < 500, url
    elif role in rule:
        assert response.status_code == (404 if names_an_object else 200), (url, response.status_code)
    else:
        assert response.status_code == 403, (url, response.status_code)
        assert "You do not have access to this page" in response.text


def test_an_end_user_gets_403_on_staff_pages(client, login_as):
    login_as(Role.SUBJECT)
    for url in ("/dpo/", "/dpo/register", "/sales/", "/admin/users", "/customer/"):
        assert client.get(url).status_code == 403, url


def test_a_view_without_a_declared_rule_is_refused(app, client, login_as):
    @app.get("/forgotten")
    def forgotten():
        return "should never be shown"

    login_as(Role.ADMIN)
    assert client.get("/forgotten").status_code == 403


def test_the_mailbox_exists_only_in_demo_mode(app, client):
    assert client.get("/dev/mailbox").status_code == 404
