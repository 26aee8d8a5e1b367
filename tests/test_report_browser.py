"""The rendered HTML report in headless Chromium: loads cleanly, images decode, not blank.

Needs Chromium (Debian: ``apt-get install -y chromium``); skipped only when no Chromium
executable is on PATH.
"""

from __future__ import annotations

import pytest

from fieldsurvey.report import render_report
from report_checks import (
    browser_probe,
    browser_screenshot,
    build_example_report,
    chromium_path,
    image_spread,
)

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="chromium not installed (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def html_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    document = build_example_report(folder / "src", seed=3)
    return render_report(document, formats=("html",), engine="pandoc", out_dir=folder)["html"]


def test_report_loads_without_errors_and_every_image_decodes(html_report, tmp_path):
    facts = browser_probe(html_report, tmp_path)
    assert facts["images"] == 5
    assert facts["broken"] == []
    assert facts["without_alt"] == 0
    assert facts["errors"] == []
    assert facts["console"] == []


def test_probe_catches_broken_images_and_script_errors(tmp_path):
    # Control: the same probe must fail on a page that is broken.
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><head><title>x</title></head><body>"
        '<img src="data:image/png;base64,AAAA" alt=" ">'
        "<script>console.error('boom'); notDefined();</script></body></html>",
        encoding="utf-8",
    )
    facts = browser_probe(page, tmp_path)
    assert facts["broken"] == ["data:image/png;base64,AAAA"]
    assert facts["without_alt"] == 1
    assert any("notDefined" in e for e in facts["errors"])
    assert any("boom" in line for line in facts["console"])


def test_screenshot_is_not_blank(html_report, tmp_path):
    shot = browser_screenshot(html_report, tmp_path / "shot.png", tmp_path)
    assert image_spread(shot) > 20
    blank = tmp_path / "blank.html"
    blank.write_text("<html><head></head><body></body></html>", encoding="utf-8")
    assert image_spread(browser_screenshot(blank, tmp_path / "blank.png", tmp_path)) < 1
