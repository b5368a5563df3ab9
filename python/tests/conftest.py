import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh directory as the working directory, with no database chosen."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INCIDENT_DB", raising=False)
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    return tmp_path


@pytest.fixture
def cli():
    """The `incident` binary of this checkout ($INCIDENT_BIN, else target/release or
    target/debug)."""
    candidates = [os.environ.get("INCIDENT_BIN")] + [
        str(ROOT / "target" / p / "incident") for p in ("release", "debug")
    ]
    for c in candidates:
        if c and pathlib.Path(c).is_file():
            return c
    found = shutil.which("incident")
    if found:
        return found
    pytest.fail("the incident binary is not built: run `cargo build --release` first")
