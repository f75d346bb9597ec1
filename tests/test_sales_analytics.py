"""/sales: unsubscribes per week, by newsletter and by reason, and opt-in conversion."""
from datetime import datetime, timedelta

from app.db import database
from app.models import Role, Unsubscribe
from app.services.newsletters import catalogue, sales_analytics
from app.services.platform.audit import Event, record

NOW = datetime(2026, 11, 18, 12, 0)  # a Wednesday: this week began Monday 16 November


def make_newsletter(actor, name):
    return catalogue.create_newsletter(name, f"{name}: one email a month about the CRM.", "", True, actor)


def test_unsubscribes_are_counted_per_week_newsletter_and_reason(db, make_user):
    sales = make_user(Role.SALES_OPS)
    with database.connection_context():
        product, events = make_newsletter(sales, "Product news"), make_newsletter(sales, "Events")
        for newsletter, reason, days_ago in [(product, "too_many", 0), (product, "too_many", 2), (events, "", 9),
                                             (None, "never_signed_up", 10), (product, "other", 200)]:
            Unsubscribe.create(newsletter=newsletter, reason=reason, source="one_click",
                               occurred_at=NOW - timedelta(days=days_ago))
        weeks = sales_analytics.unsubscribes_per_week(NOW)
        by_newsletter = {s.label: s.total for s in sales_analytics.unsubscribes_by_newsletter(NOW)}
        by_reason = {s.label: s.total for s in sales_analytics.unsubscribes_by_reason(NOW)}
    assert [w.count for w in weeks[-3:]] == [1, 1, 2] and sum(w.count for w in weeks) == 4  # not 200 days ago
    assert by_newsletter == {"Product news": 2, "Events": 1, "All marketing": 1}
    assert by_reason == {"I get too many emails": 2, "No reason given": 1, "I never signed up": 1}


def test_opt_in_conversion_is_confirmed_over_asked(db, make_user):
    from app.models.consent import ConsentSource
    from app.services.consent.ledger import Origin, set_consent
    sales = make_user(Role.SALES_OPS)
    readers = [make_user(Role.SUBJECT, email=f"reader{i}@example.com") for i in range(4)]
    with database.connection_context():
        newsletter = make_newsletter(sales, "Product news")
        for person in readers:
            record(Event("newsletter.sign_up_requested", actor=sales, subject=person))
        set_consent(readers[0], newsletter.purpose, True, Origin(ConsentSource.EMAIL_LINK, actor=readers[0]))
        conversion = sales_analytics.opt_in_conversion()
    assert (conversion.asked, conversion.confirmed, conversion.percent) == (4, 1, 25)


def test_the_sales_page_draws_the_charts_on_the_server(client, login_as):
    sales = login_as(Role.SALES_OPS)
    with database.connection_context():
        newsletter = make_newsletter(sales, "Product news")
        Unsubscribe.create(newsletter=newsletter, reason="too_many", source="one_click", occurred_at=datetime.now())
    page = client.get("/sales/").text
    assert '<svg class="chart" role="img"' in page and "1 unsubscribe in the last 12 weeks" in page
    assert "Product news" in page and "I get too many emails" in page
    assert "Unsubscribes per week, oldest first: 0, 0" in page  # the sparkline's numbers, in words
