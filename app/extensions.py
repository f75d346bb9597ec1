"""Flask extensions, created here and initialised in create_app."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf import CSRFProtect
from htmx_flask import Htmx


def person_or_address() -> str:
    """Whom a rate limit counts, unless a route says otherwise: a signed-in person as
    themselves, so people behind one address (an office, a carrier's NAT) never share
    a limit; an anonymous caller by address. Sign-in counts by address explicitly."""
    if current_user.is_authenticated:
        return f"person:{current_user.id}"
    return f"address:{get_remote_address()}"


csrf = CSRFProtect()
htmx = Htmx()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"
limiter = Limiter(key_func=person_or_address, default_limits=[], headers_enabled=True)
