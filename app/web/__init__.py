"""The web layer: blueprints, access control, headers, errors."""
from __future__ import annotations

from flask import Flask, has_request_context
from flask_login import current_user

from app.extensions import login_manager
from app.models.base import utcnow
from app.services.accounts.auth import signed_in_user
from app.services.rights.laws import law_of
from app.web import access, errors, headers, inputs
from app.web.navigation import navigation_for


def register_web(app: Flask) -> None:
    inputs.register(app)  # first: the blueprints' rules take its int converter as they are added
    from app.web.admin.routes import bp as admin_bp
    from app.web.api.routes import bp as api_bp
    from app.web.auth.routes import bp as auth_bp
    from app.web.children.routes import bp as children_bp
    from app.web.customer import (
        dpa,  # noqa: F401  (its routes join the customer blueprint)
        exports,  # noqa: F401  (its routes join the customer blueprint)
        notices,  # noqa: F401  (its routes join the customer blueprint)
    )
    from app.web.customer.routes import bp as customer_bp
    from app.web.dpo import dashboard, dpas, restrictions, retention, subprocessors  # noqa: F401  (their routes join the same blueprint)
    from app.web.dpo.routes import bp as dpo_bp
    from app.web.integrations.routes import bp as integrations_bp
    from app.web.my_data.routes import bp as my_data_bp
    from app.web.newsletters.routes import bp as newsletter_signup_bp
    from app.web.portal.routes import bp as portal_bp
    from app.web.preferences.routes import bp as preferences_bp
    from app.web.privacy.routes import bp as privacy_bp
    from app.web.privacy_requests.routes import bp as privacy_requests_bp
    from app.web.sales import (
        imports,  # noqa: F401  (its routes join the sales blueprint)
        issues,  # noqa: F401  (its routes join the sales blueprint)
        suppression,  # noqa: F401  (its routes join the sales blueprint)
    )
    from app.web.sales.routes import bp as sales_bp
    from app.web.system.routes import bp as system_bp
    from app.web.tracking.routes import bp as tracking_bp
    from app.web.unsubscribe.routes import bp as unsubscribe_bp

    for bp in (auth_bp, portal_bp, my_data_bp, privacy_requests_bp, preferences_bp, dpo_bp, sales_bp, admin_bp,
               customer_bp, api_bp, system_bp, newsletter_signup_bp, integrations_bp, privacy_bp, children_bp):
        app.register_blueprint(bp)
    for bp in (unsubscribe_bp, tracking_bp):  # the public ends of newsletter emails
        app.register_blueprint(bp)
    if app.config["DEMO_MODE"]:
        from app.web.system.mailbox import bp as mailbox_bp
        app.register_blueprint(mailbox_bp)

    app.before_request(access.check_access)
    app.after_request(headers.add_security_headers)
    errors.register(app)

    # Emails and PDFs about a request cite its own law (`law_of(request.jurisdiction)`):
    # a global, so every template, from a view or a job, reads the same table.
    app.add_template_global(law_of, "law_of")

    @app.context_processor
    def layout_context():
        user = current_user if has_request_context() else None  # jobs render templates too
        return {"navigation": navigation_for(user), "demo_mode": app.config["DEMO_MODE"], "now": utcnow()}


@login_manager.user_loader
def load_user(user_id: str):
    return signed_in_user(user_id)
