"""The README documents what the code declares."""
import re
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


# --- docs/ names only what exists ------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
CODE = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"^(?:app|jobs|tests|templates|static|\.ci)/[\w./-]*$")
DOTTED = re.compile(r"^(?:app|jobs)(?:\.\w+)+$")
TEST_ID = re.compile(r"^(tests/[\w/]+\.py)::(\w+)$")


def spans(kind) -> list[tuple[str, str]]:
    """(document, backticked text) of every code span in docs/ that `kind` matches."""
    return [(doc.name, text) for doc in DOCS for text in CODE.findall(doc.read_text()) if kind.match(text)]


def test_docs_holds_the_three_documents_and_the_readme_links_them():
    assert {d.name for d in DOCS} >= {"architecture.md", "compliance.md", "operations.md"}
    for name in ("architecture.md", "compliance.md", "operations.md"):
        assert f"(docs/{name})" in README


def test_every_path_named_in_docs_exists():
    missing = [(doc, text) for doc, text in spans(PATH) if not (ROOT / text).exists()]
    assert missing == []
    assert len(spans(PATH)) > 30  # the documents do name the code


def test_every_test_named_in_docs_exists():
    missing = []
    for doc, text in spans(TEST_ID):
        path, name = TEST_ID.match(text).groups()
        source = ROOT / path
        if not source.exists() or not re.search(rf"^def {name}\(", source.read_text(), re.M):
            missing.append((doc, text))
    assert missing == []
    assert len(spans(TEST_ID)) > 20


def test_every_module_named_in_docs_exists():
    """`app.services.rights.erasure` is a module; `app.services.rights.erasure.HOLDERS`
    names something the module defines."""
    missing = []
    for doc, text in spans(DOTTED):
        parts = text.split(".")
        for n in range(len(parts), 0, -1):
            base = ROOT.joinpath(*parts[:n])
            module = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
            if module.exists():
                rest = parts[n:]
                if rest and not re.search(rf"^(?:def |class )?{rest[0]}\b", module.read_text(), re.M):
                    missing.append((doc, text))
                break
        else:
            missing.append((doc, text))
    assert missing == []


def commands_named(prefix: str) -> list[tuple[str, list[str]]]:
    """The words of each `flask …` or `make …` span, up to its first option or placeholder."""
    found = []
    for doc, text in spans(re.compile(rf"^{prefix} ")):
        words = text.split()[1:]
        if words[:2] == ["--app", "wsgi"]:
            words = words[2:]
        words = [w for w in _until_argument(words)]
        found.append((doc, words))
    return found


def _until_argument(words):
    for w in words:
        if w.startswith(("-", "[", "<")) or not re.fullmatch(r"[a-z][a-z_-]*", w):
            return
        yield w


def test_every_flask_command_named_in_docs_exists(runner):
    named = commands_named("flask")
    assert len(named) > 5
    unknown = [(doc, " ".join(words)) for doc, words in named
               if runner.invoke(args=[*words, "--help"]).exit_code != 0]
    assert unknown == []


def test_every_make_target_named_in_docs_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    unknown = [(doc, words) for doc, words in commands_named("make") if not set(words) <= targets]
    assert unknown == []
