"""Retention the scheduler enforces: the DPO's policies and the batched sweeps that delete
or anonymise what is past its period (policies), and encrypted backups whose restore
erases again whoever the erasure log names (backups).

May import: rights (erasure's anonymisers, the erasure log, legal holds), consent,
platform."""
