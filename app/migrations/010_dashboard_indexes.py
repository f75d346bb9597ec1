"""Indexes for the DPO console with 100,000s of requests: for the dashboard
(app.services.rights.dpo_metrics), each covering one of its aggregate queries so that it
reads an index range and never the table; for the queue, its order over open
requests only."""

import peewee as pw
from peewee_migrate import Migrator

REQUEST_INDEXES = (
    ("status", "kind", "due_at"),                                   # open by kind, overdue
    ("status", "completed_at", "received_at"),                      # completed in the last 12 months
    ("status", "decided_at", "received_at"),                        # denied in the last 12 months
    ("received_at",),                                               # received per week
    ("kind", "received_at", "status", "completed_at", "decided_at"),  # per kind and calendar year (CCPA)
)
CONSENT_INDEX = ("granted", "occurred_at", "purpose")               # withdrawals per week, opt-outs per year
# The DPO queue over open requests only, in its (due_at, id) order: a deep or an
# overdue page reads open rows alone. The list is app.services.rights.requests.OPEN.
QUEUE_INDEX = ("CREATE INDEX privacy_request_open_due_at_id ON privacy_request (due_at, id) WHERE status IN "
               "('awaiting_confirmation', 'cooling_off', 'pending_review', 'approved', 'in_progress')")


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    for columns in REQUEST_INDEXES:
        migrator.add_index("privacy_request", *columns)
    migrator.add_index("consent_event", *CONSENT_INDEX)
    migrator.sql(QUEUE_INDEX)  # partial: the migrator's add_index takes no WHERE


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("DROP INDEX privacy_request_open_due_at_id")
    migrator.drop_index("consent_event", *CONSENT_INDEX)
    for columns in reversed(REQUEST_INDEXES):
        migrator.drop_index("privacy_request", *columns)
