"""Connected integrations (Google-style OAuth sync): what can be connected (catalogue),
connecting, syncing, disconnecting and revoking (connections), the per-provider sync
adapters (adapters), and signing in with a provider account (provider_sign_in).

May import: rights (erasure revokes grants before deleting), consent, platform."""
