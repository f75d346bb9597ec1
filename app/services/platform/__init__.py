"""What every domain stands on: mail over SMTP (mail),
background jobs with persisted progress (jobs), the scheduler's bookkeeping
(schedule), absolute and signed links (links, signed_links), the hash-chained audit
log (audit), domain errors (errors), address syntax (addresses), weekly counts for the
charts (weekly) and UTC text for files (utc).

May import: app.models, app.db, app.config. No other service package."""
