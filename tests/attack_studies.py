"""Small hand-made studies for the privacy attacks: staff with chosen bands, groups and sizes.

Answers are made item by item for the ProQOL 5 so that each person lands in the band the test
asks for (or has no score, with three items left blank); the workforce-context answers (role,
lived experience, pay band, tenure, hours) are set per person. Studies are created and filled
with the ``fieldsurvey init`` and ``fieldsurvey ingest`` commands (a plain table per file).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.instrument import resolve_instrument

INSTRUMENTS = ("workforce-context", "proqol5")
SCALES = ("compassion_satisfaction", "burnout", "sts")
#: Scored totals of each ProQOL band (ten items scored 1-5).
BAND_TOTALS = {"Low": (10, 22), "Moderate": (23, 41), "High": (42, 50)}
NO_SCORE = "no score"
LIVED = {"yes": 1, "no": 2, "prefer not to say": 3, None: None}


def spread(n: int, default: Any, **counts: int) -> list[Any]:
    """``n`` values: ``counts`` of each named value first, the rest ``default``.

    >>> spread(4, "Moderate", High=1)
    ['High', 'Moderate', 'Moderate', 'Moderate']
    """
    values = [k for k, c in counts.items() for _ in range(c)]
    assert len(values) <= n, (n, counts)
    return values + [default] * (n - len(values))


def _scale_answers(scale: str, band: str | None, rng: np.random.Generator) -> dict[str, Any]:
    inst = resolve_instrument("proqol5")
    sc = inst.scale(scale)
    items = list(sc.items)
    if band is None:
        band = str(rng.choice(["Low", "Moderate", "Moderate", "Moderate"]))
    if band == NO_SCORE:
        out = {i: int(rng.integers(1, 6)) for i in items}
        for i in rng.choice(items, size=3, replace=False):
            out[str(i)] = None
        return out
    lo, hi = BAND_TOTALS[band]
    total = int(rng.integers(lo, hi + 1))
    scored = np.ones(len(items), dtype=int)
    while scored.sum() < total:
        j = int(rng.integers(len(items)))
        if scored[j] < 5:
            scored[j] += 1
    out = {}
    for item, value in zip(items, scored, strict=True):
        out[item] = int(6 - value) if inst.item(item).reverse else int(value)
    return out


def staff(org: str, n: int, *, wave: str = "1", seed: int = 0, lived: Sequence[Any] | None = None,
          role: Sequence[Any] | None = None, bands: Mapping[str, Sequence[Any]] | None = None,
          prefix: str = "") -> pd.DataFrame:
    """``n`` staff of ``org`` answering in ``wave``.

    ``lived``: per person "yes" / "no" / "prefer not to say" / None (no answer); default mostly
    "no" with a few "yes". ``role``: per person a role code 1-6 or None. ``bands``: per scale,
    per person a band label, "no score", or None (any band).
    """
    rng = np.random.default_rng(zlib.crc32(f"{org}|{wave}|{seed}|{prefix}".encode()))
    lived = list(lived) if lived is not None else [
        str(rng.choice(["yes", "no", "no", "no", "no"])) for _ in range(n)]
    role = list(role) if role is not None else [int(rng.integers(1, 4)) for _ in range(n)]
    bands = dict(bands or {})
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "response_id": f"{prefix}{org}-{wave}-{i + 1:03d}", "wf_org": org,
            "wf_role": role[i], "wf_lived_exp": LIVED[lived[i]],
            "wf_payband": int(rng.integers(1, 7)), "wf_tenure": int(rng.integers(1, 6)),
            "wf_hours": int(rng.integers(20, 50)),
        }
        for scale in SCALES:
            per = bands.get(scale)
            row.update(_scale_answers(scale, per[i] if per is not None else None, rng))
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in ("wf_role", "wf_lived_exp"):
        frame[col] = frame[col].astype("Int64")
    return frame


def cli(*args: Any, ok: bool = True) -> Any:
    """Run ``fieldsurvey ARGS`` in this process; the result (output, exit code)."""
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    if ok and result.exit_code != 0:
        raise AssertionError(f"fieldsurvey {' '.join(map(str, args))} failed "
                             f"({result.exit_code}):\n{result.output}")
    return result


def cli_json(*args: Any) -> Any:
    out = cli(*args, "--format", "json").output
    return json.loads(out[out.index("{"):] if "{" in out else out)


def new_study(root: Path, *, min_cell: int = 10, waves: Sequence[str] = ("1", "2")) -> Path:
    """``fieldsurvey init``: a study of the workforce context and the ProQOL 5."""
    args: list[Any] = ["init", root]
    for inst in INSTRUMENTS:
        args += ["-i", inst]
    args += ["--org-column", "wf_org", "--group-column", "wf_role", "--group-column",
             "wf_lived_exp", "--min-cell", min_cell]
    for w in waves:
        args += ["--wave", w]
    cli(*args)
    return root


def ingest(study: Path, frame: pd.DataFrame, *, wave: str, name: str) -> Path:
    """``fieldsurvey ingest`` of one file (a plain table named ``name``)."""
    path = study / "imports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    cli("ingest", study, path, "--platform", "table", "--wave", wave)
    return path


def build(root: Path, files: Sequence[tuple[str, str, pd.DataFrame]], *, min_cell: int = 10,
          waves: Sequence[str] = ("1", "2")) -> Path:
    """A study from ``(wave, file name, staff)`` files, ingested in order."""
    new_study(root, min_cell=min_cell, waves=waves)
    for wave, name, frame in files:
        ingest(root, frame, wave=wave, name=name)
    return root


def tables_of(doc: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """A command's JSON document as tables (one per list of records)."""
    return {k: pd.DataFrame(v) for k, v in doc.items() if isinstance(v, list)}
