"""/dpo/restrictions: who is restricted (Art. 18), why and since when, and lifting a
restriction, which first emails the person (Art. 18(3)). The rules are in
app.services.rights.restrictions."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.models import Role, User
from app.services.platform.errors import ServiceError
from app.services.rights import restrictions
from app.web.access import roles
from app.web.dpo.blueprint import bp
from app.web.dpo.forms import LiftRestrictionForm

STAFF = (Role.DPO, Role.ADMIN)


@bp.get("/restrictions")
@roles(*STAFF)
def restrictions_list():
    return render_template("dpo/restrictions.html", restrictions=restrictions.active())


@bp.route("/restrictions/<int:restriction_id>/lift", methods=["GET", "POST"])
@roles(*STAFF)
def restriction_lift(restriction_id):
    """A confirmation step: the page says what will happen (an email, then the lift)."""
    restriction = restrictions.get_active(restriction_id)
    form = LiftRestrictionForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                lifted = restrictions.lift(restriction_id, form.reason.data, current_user)
            except ServiceError as e:
                form.reason.errors = [e.message]
                status = e.status
            else:
                person = User.get_by_id(restriction.user_id)
                if lifted.lifted_at:
                    flash(f"{person.email} was emailed that the restriction ends, and it was lifted.", "success")
                else:
                    flash(f"The mail server did not take the notice to {person.email} yet: it is queued and retried "
                          "for up to 3 days, and the restriction is lifted once it is delivered.", "info")
                return redirect(url_for("dpo.restrictions_list"), 303)
        else:
            status = 400
    return render_template("dpo/restriction_lift.html", restriction=restriction,
                           person=User.get_by_id(restriction.user_id), form=form), status
