"""The DPO console's blueprint, shared by its modules (queue and requests, dashboard)."""
from flask import Blueprint

bp = Blueprint("dpo", __name__, url_prefix="/dpo")
