"""The instance's own secrets: generated once, kept in files only the owner can read."""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet


def _read_or_create(path: Path, make) -> str:
    """Create `path` (mode 0600) holding `make()` unless it exists; return its content.

    Written to a temporary file and hard-linked into place, so two processes
    starting at once agree on one key and nobody ever reads a half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mkstemp uses 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(make())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def load_keys(config: dict) -> None:
    """Fill SECRET_KEY, SUPPRESSION_KEY and DATA_ENCRYPTION_KEY from the environment or the instance folder."""
    instance = Path(config["INSTANCE_PATH"])
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _read_or_create(instance / "secret_key", lambda: secrets.token_urlsafe(48))
    if not config.get("SUPPRESSION_KEY"):
        config["SUPPRESSION_KEY"] = _read_or_create(instance / "suppression_key", lambda: secrets.token_hex(32))
    if not config.get("DATA_ENCRYPTION_KEY"):
        config["DATA_ENCRYPTION_KEY"] = _read_or_create(
            instance / "data_key", lambda: Fernet.generate_key().decode())
