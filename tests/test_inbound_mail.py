"""Mail that comes back, over real SMTP: the List-Unsubscribe mailto: (RFC 2369) and
bounces to each issue's return path (RFC 3464 delivery status notifications)."""
import smtplib
import socket
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from app.cli import inbound
from app.models import EmailEngagement, Role, Unsubscribe
from app.services.consent.suppression import is_suppressed
from app.services.newsletters import sales_analytics
from tests.support.forms import post_form
from tests.test_newsletter_sending import events_of, messages_to, send, services, subscribed, subscriber


@pytest.fixture
def inbound_server(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = inbound.start(app, "127.0.0.1", port)
    yield port
    controller.stop()


def mail_to(port: int, to: str, subject: str, envelope_from: str = "mailer@provider.example") -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Alice <alice@example.com>", to, subject
    msg.set_content("Please unsubscribe me.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg, from_addr=envelope_from, to_addrs=[to])


def mailto_of(msg) -> tuple[str, str]:
    """What a mailbox provider does with the mailto: of List-Unsubscribe: address and subject."""
    mailto = [part.strip(" <>") for part in msg["List-Unsubscribe"].split(",") if "mailto:" in part][0]
    parts = urlsplit(mailto)
    return unquote(parts.path), parse_qs(parts.query)["subject"][0]


def delivery_status_notification(to: str, status: str) -> bytes:
    """A bounce as an MTA writes it (RFC 3464): multipart/report with a
    message/delivery-status part."""
    action = "failed" if status.startswith("5") else "delayed"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; bob@example.com\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n\r\n--b1--\r\n").encode()


def bounce_to(port: int, return_path: str, status: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.sendmail("", [return_path], delivery_status_notification(return_path, status))  # null sender


def test_a_mailed_unsubscribe_turns_the_newsletter_off_and_the_next_issue_skips_the_person(
        app, smtp, sales, newsletter, make_user, inbound_server):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    send(app, newsletter, sales)
    address, subject = mailto_of(smtp.wait_for(alice.email))
    assert address == "unsubscribe@example.com" and subject.startswith("unsubscribe-")

    mail_to(inbound_server, address, subject)
    assert not subscribed(app, alice, newsletter)
    assert events_of(app, alice)[-1] == (newsletter.purpose.key, False, "email_reply")
    mail_to(inbound_server, address, subject)  # a second mail changes nothing more
    assert [e for e in events_of(app, alice) if e[2] == "email_reply"] == [(newsletter.purpose.key, False,
                                                                            "email_reply")]
    with services(app):
        assert [(u.newsletter_id, u.source) for u in Unsubscribe.select()] == [(newsletter.id, "email_reply")]

    smtp.clear()
    assert send(app, newsletter, sales, subject="Summer is here").sent_count == 0


def test_a_mailed_unsubscribe_with_a_forged_or_missing_token_changes_nothing(
        app, smtp, sales, newsletter, make_user, inbound_server):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    send(app, newsletter, sales)
    address, subject = mailto_of(smtp.wait_for(alice.email))
    mail_to(inbound_server, address, subject[:-3] + "xyz")
    mail_to(inbound_server, address, "Please take me off your list")
    assert subscribed(app, alice, newsletter)


def test_mail_for_any_other_address_is_refused_at_rcpt(app, inbound_server):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mail_to(inbound_server, "ceo@example.com", "hello")
    assert refused.value.recipients["ceo@example.com"][0] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mail_to(inbound_server, "unsubscribe@elsewhere.example", "unsubscribe-x")


def test_a_permanent_bounce_suppresses_the_address_counts_on_sales_and_stops_the_next_issue(
        app, smtp, sales, newsletter, make_user, inbound_server, client, login_as):
    bob = subscriber(app, make_user, newsletter, "bob@example.com")
    carol = subscriber(app, make_user, newsletter, "carol@example.com")
    send(app, newsletter, sales)
    return_path = smtp.wait_for(bob.email).envelope_from
    assert return_path.startswith("bounces+") and return_path.endswith("@example.com")
    assert return_path != smtp.wait_for(carol.email).envelope_from  # one per person and issue
    assert len(return_path.partition("@")[0]) <= 64  # RFC 5321's limit for the local part

    bounce_to(inbound_server, return_path, "4.2.2")  # mailbox full: try later
    with services(app):
        assert not is_suppressed(bob.email)
    bounce_to(inbound_server, return_path, "5.1.1")
    with services(app):
        assert is_suppressed(bob.email)
        assert [e.kind for e in EmailEngagement.select().where(EmailEngagement.user == bob.id,
                                                               EmailEngagement.kind == "bounced")] == ["bounced"]
        assert sum(w.count for w in sales_analytics.bounces_per_week()) == 1

    login_as(Role.SALES_OPS)
    page = client.get("/sales/").text
    assert "Permanent bounces per week" in page and "1 bounce" in page

    smtp.clear()
    assert send(app, newsletter, sales, subject="Summer is here").sent_count == 1
    assert messages_to(smtp, bob.email) == [] and len(messages_to(smtp, carol.email)) == 1


def test_a_bounce_with_a_forged_return_path_or_no_status_changes_nothing(
        app, smtp, sales, newsletter, make_user, inbound_server):
    bob = subscriber(app, make_user, newsletter, "bob@example.com")
    send(app, newsletter, sales)
    return_path = smtp.wait_for(bob.email).envelope_from
    forged = return_path.replace("bounces+", "bounces+x", 1)
    bounce_to(inbound_server, forged, "5.1.1")
    mail_to(inbound_server, return_path, "Out of office", envelope_from="")  # free text, no DSN
    with services(app):
        assert not is_suppressed(bob.email)
    assert subscribed(app, bob, newsletter)


def test_staff_may_remove_a_bounced_address_from_the_suppression_list(
        app, smtp, sales, newsletter, make_user, inbound_server, client, login_as):
    bob = subscriber(app, make_user, newsletter, "bob@example.com")
    send(app, newsletter, sales)
    return_path = smtp.wait_for(bob.email).envelope_from
    bounce_to(inbound_server, return_path, "5.1.1")
    login_as(Role.SALES_OPS)
    checked = post_form(client, "/sales/suppression", {"check-email": bob.email})
    assert "bounced" in checked.text and "Remove this entry" in checked.text
    removed = post_form(client, "/sales/suppression/remove", {"check-email": bob.email},
                        token_from="/sales/suppression", follow_redirects=True)
    assert "Removed" in removed.text
    with services(app):
        assert not is_suppressed(bob.email)
