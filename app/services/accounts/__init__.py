"""Accounts: sign-in by password, TOTP and emailed link (auth), argon2 hashes
(passwords), API keys for other systems (api_keys), and finding people on file
(people).

May import: consent, platform."""
