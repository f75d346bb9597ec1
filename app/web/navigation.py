"""The navigation each role sees: (endpoint, label) pairs; the first is the role's home."""
from __future__ import annotations

from app.models import Role

NAVIGATION = {
    Role.SUBJECT: [("portal.home", "My privacy"), ("my_data.overview", "My data"), ("preferences.page", "Preferences"),
                   ("integrations.index", "Integrations"), ("privacy_requests.index", "Requests")],
    Role.DPO: [("dpo.home", "DPO console"), ("dpo.request_queue", "Requests"),
               ("dpo.restrictions_list", "Restrictions"), ("dpo.audit_log", "Audit log"),
               ("dpo.registry", "Data register"), ("dpo.retention_policies", "Retention"),
               ("dpo.subprocessors_register", "Sub-processors"), ("dpo.dpa_list", "DPAs")],
    Role.SALES_OPS: [("sales.home", "Sales ops"), ("sales.newsletter_list", "Newsletters"),
                     ("sales.suppression_list", "Suppression list")],
    # Admins see the DPO's console too (and may act: the audit log names them).
    Role.ADMIN: [("admin.users", "Users"), ("admin.purposes", "Purposes"), ("admin.api_keys", "API keys"),
                 ("admin.scheduled_jobs", "Jobs"), ("dpo.home", "DPO console"), ("dpo.request_queue", "Requests"),
                 ("dpo.restrictions_list", "Restrictions"),
                 ("dpo.registry", "Data register"), ("dpo.retention_policies", "Retention"),
                 ("dpo.subprocessors_register", "Sub-processors"), ("dpo.dpa_list", "DPAs")],
    Role.CUSTOMER_ADMIN: [("customer.home", "Company"), ("customer.dpa_list", "DPA"),
                         ("customer.notices", "Sub-processor notices")],
}


def navigation_for(user) -> list[tuple[str, str]]:
    """`user` is None outside a request (templates rendered by jobs, emails)."""
    return NAVIGATION[user.role_enum] if user is not None and user.is_authenticated else []


def home_endpoint(user) -> str:
    return NAVIGATION[user.role_enum][0][0]
