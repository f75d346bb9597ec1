"""The DPO console's home: the dashboard, the CCPA metrics download, and the audit
chain check."""
from __future__ import annotations

from flask import Response, render_template, request

from app.models import Role
from app.services.platform.audit import recent_events, verify_chain
from app.services.rights import dpo_metrics
from app.web.access import roles
from app.web.dpo.blueprint import bp


@bp.get("/")
@roles(Role.DPO, Role.ADMIN)
def home():
    # The yearly CCPA table is the heaviest part: a plain visit leaves it to a request
    # of its own, which htmx sends once the page is in (and the year picker sends
    # too). It is in the page itself when a year is asked for, say without JavaScript.
    if _wants_fragment():
        return render_template("dpo/_ccpa.html", **_ccpa_context(with_table=True))
    return render_template("dpo/home.html", **_page_context(with_table="year" in request.args))


@bp.get("/metrics.csv")
@roles(Role.DPO, Role.ADMIN)
def metrics_csv():
    year = dpo_metrics.parse_year(request.args.get("year"))
    body = dpo_metrics.ccpa_csv(dpo_metrics.ccpa_metrics(year))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=ccpa-metrics-{year}.csv"})


@bp.post("/audit/verify")
@roles(Role.DPO, Role.ADMIN)
def verify_audit():
    # On demand, not on every page view: the walk reads the whole log.
    intact, checked, broken_at = verify_chain()
    verification = {"intact": intact, "checked": checked, "broken_at": broken_at}
    if _wants_fragment():
        return render_template("dpo/_verification.html", verification=verification)
    return render_template("dpo/home.html", **_page_context(verification=verification))


def _wants_fragment() -> bool:
    """htmx swapping a part; history restores get the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _page_context(verification=None, with_table: bool = False) -> dict:
    return {"metrics": dpo_metrics.dashboard(), "recent": recent_events(20), "verification": verification,
            **_ccpa_context(with_table)}


def _ccpa_context(with_table: bool) -> dict:
    """The chosen year (last year unless told), the years to choose from, and that
    year's metrics when they are to be shown now."""
    year = dpo_metrics.parse_year(request.args.get("year"))
    return {"year": year, "years": dpo_metrics.years_on_record(),
            "ccpa": dpo_metrics.ccpa_metrics(year) if with_table else None}
