"""The package finds its data folders when installed from a wheel, not only from a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import REPO


def test_wheel_ships_instruments_reports_and_analysis(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("fieldsurvey-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "fieldsurvey/_data/instruments/proqol5.yaml" in names
    assert any(n.startswith("fieldsurvey/_data/reports/") for n in names)
    assert any(n.startswith("fieldsurvey/_data/analysis/") for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # Run from the unpacked wheel alone: the checkout must not be what it finds.
    probe = (
        "from fieldsurvey.resources import data_dir; from fieldsurvey.instrument import resolve_instrument;"
        "print(data_dir('instruments')); print(resolve_instrument('proqol5').id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0].startswith(str(site)) and out[0].endswith("_data/instruments")
    assert out[1] == "proqol5"
