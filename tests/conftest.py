"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Real third-party exports whose licences allow copying live in tests/data/real (see its
# NOTICE.md); the others are optional and read from ../shared/fixtures/real when it is there.
BUNDLED_REAL = REPO / "tests" / "data" / "real"
SHARED_FIXTURES = Path(
    os.environ.get("FIELDSURVEY_REAL_FIXTURES", REPO.parent / "shared" / "fixtures" / "real")
)


def real_fixture(relative: str | Path) -> Path:
    """The path of a real export file, e.g. ``real_fixture("redcap/REDCapR_simple-data.csv")``.

    Files bundled in tests/data/real are always there. Any other file is looked up in
    ../shared/fixtures/real (or $FIELDSURVEY_REAL_FIXTURES); when it is absent the calling test is
    skipped, saying which file it needs and why it is not bundled.
    """
    bundled = BUNDLED_REAL / relative
    if bundled.is_file():
        return bundled
    optional = SHARED_FIXTURES / relative
    if optional.is_file():
        return optional
    pytest.skip(
        f"optional real export {relative} is absent: not bundled in tests/data/real "
        f"(see tests/data/real/NOTICE.md for why) and "
        f"{SHARED_FIXTURES} does not have it"
    )


@pytest.fixture(autouse=True)
def _isolated_wording_home(tmp_path_factory, monkeypatch):
    """Keep every test's attached wording out of the user's real home folder."""
    monkeypatch.setenv("FIELDSURVEY_HOME", str(tmp_path_factory.mktemp("fieldsurvey-home")))
