"""Newsletters for sales ops: the catalogue of newsletters and their double opt-in
(catalogue), sending issues that respect consent and suppression (sending), subscriber
imports (subscriber_import), one-click and mailed unsubscribes (unsubscribes), mail
that comes back: unsubscribes and bounces (inbound_mail), and what sales sees of them
(sales_analytics).

May import: consent, platform."""
