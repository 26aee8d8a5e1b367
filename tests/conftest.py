"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures" / "real"


@pytest.fixture(autouse=True)
def _isolated_wording_home(tmp_path_factory, monkeypatch):
    """Keep every test's attached wording out of the user's real home folder."""
    monkeypatch.setenv("FIELDSURVEY_HOME", str(tmp_path_factory.mktemp("fieldsurvey-home")))
