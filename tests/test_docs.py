"""The README documents what the code declares."""
from pathlib import Path

from app.config import SETTINGS
from app.services.demo import DEMO_LOGINS, DEMO_TOTP_SECRET

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_lists_every_setting():
    missing = [s.name for s in SETTINGS if f"| `{s.name}` |" not in README]
    assert missing == []


def test_readme_lists_every_demo_login_and_the_totp_secret():
    assert [email for email, _, _ in DEMO_LOGINS if f"`{email}`" not in README] == []
    assert DEMO_TOTP_SECRET in README


def test_readme_gives_the_two_commands():
    assert "make run" in README and "make test" in README
