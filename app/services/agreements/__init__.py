"""Agreements with business customers: Data Processing Addenda requested, signed and
countersigned (dpa), their PDF document rendered by WeasyPrint (dpa_document), the
sub-processor register (subprocessors), and notices of its changes with the customers'
objections (subprocessor_notices).

May import: rights (erasure's strategies for these rows), consent, platform."""
