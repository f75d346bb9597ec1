"""Data-subject rights and the DPO's work on them: requests and their legal clocks
(requests, deadlines), the registry walk that finds everything held on a person
(personal_data) and what they are told of its retention (retention_notice), exports
(Art. 15/20), rectification (profiles), restriction (restrictions, Art. 18) and
objection per processing (objections, Art. 21), erasure (Art. 17) with legal holds and the
erasure log a restore replays (erasure, legal_holds, erasure_log), the DPO's queue,
decisions, dashboard and daily digest (dpo, dpo_metrics, digest).

Erasure owns the strategies other domains register for their rows (HOLDERS,
ANONYMISERS, BEFORE_DELETE), so that those domains depend on rights, not the reverse.

May import: consent, platform."""
