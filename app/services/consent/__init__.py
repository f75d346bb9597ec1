"""Consent: the purposes catalogue and its notice versions (purposes), each person's
choices written to the append-only ledger and the current-state table in one
transaction, GPC included (ledger), receipts of that proof (receipts), signed
"Manage preferences" links (preference_links), push per device (devices), and the
suppression list that nobody can override (suppression).

May import: platform."""
