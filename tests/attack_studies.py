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
import yaml
from click.testing import CliRunner

from attacker import Attacker, new_attacker, read_report, study_truth, why
from fieldsurvey.analyse.study import load_study_data
from fieldsurvey.cli import main
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.report.release import gate_reports
from fieldsurvey.resources import data_dir
from fieldsurvey.store import open_study

INSTRUMENTS = ("workforce-context", "proqol5")
SCALES = ("compassion_satisfaction", "burnout", "sts")
#: Scored totals of each ProQOL band (ten items scored 1-5).
BAND_TOTALS = {"Low": (10, 22), "Moderate": (23, 41), "High": (42, 50)}
NO_SCORE = "no score"
#: A band drawn from Low and Moderate only.
NOT_HIGH = "not high"
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
    if band is None:  # the field's usual mix
        band = str(rng.choice(["Low", "Moderate", "High"], p=[0.25, 0.65, 0.10]))
    elif band == NOT_HIGH:
        band = str(rng.choice(["Low", "Moderate"], p=[0.3, 0.7]))
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

    ``lived``: per person "yes" / "no" / "prefer not to say" / None (no answer); default the
    field's usual mix. ``role``: per person a role code 1-6 or None (default: a mix of all).
    ``bands``: per scale, per person a band label, "no score", ``NOT_HIGH`` or None (the
    field's usual mix: some in every band).
    """
    rng = np.random.default_rng(zlib.crc32(f"{org}|{wave}|{seed}|{prefix}".encode()))
    lived = list(lived) if lived is not None else [
        [None, "yes", "no", "prefer not to say"][int(rng.choice(4, p=[0.05, 0.2, 0.7, 0.05]))]
        for _ in range(n)]
    role = list(role) if role is not None else [
        None if rng.random() < 0.05 else int(rng.choice(6, p=[.3, .2, .2, .1, .1, .1])) + 1
        for _ in range(n)]
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


# ----------------------------------------------------------------------------------------------
# Reading outputs with the attacker

FINDINGS = data_dir("analysis") / "field-findings.yaml"
#: How ``compare`` prints the lived-experience answers, and the attacker's labels for them.
COMPARE_LIVED = {"Yes": "yes", "No": "no", "Prefer not to say": "prefer not to say",
                 "not stated": "not stated"}


def lived_label(value: str) -> str:
    return COMPARE_LIVED[value]


def finding_bands() -> dict[str, tuple[str, str]]:
    """The report table of each published finding -> (scale, band) its hits are counted in."""
    raw = yaml.safe_load(FINDINGS.read_text())
    out = {}
    for f in raw["findings"]:
        recipe = f["recipe"]
        if recipe.get("band") and recipe.get("scale"):
            out[f"finding_{f['id']}"] = (recipe["scale"].split(".")[-1], recipe["band"])
    return out


def finding_recipes() -> dict[str, dict[str, Any]]:
    raw = yaml.safe_load(FINDINGS.read_text())
    return {f["id"]: f["recipe"] for f in raw["findings"]}


def attacker_of(root: Path, *, knows_sizes: bool = True) -> Attacker:
    """The attacker of a study: by default it knows each organisation's size band, as the
    gate assumes every member does."""
    truth, layers = study_truth(root)
    return new_attacker(truth, layers, min_cell=open_study(root).config.min_cell,
                        knows_sizes=knows_sizes)


def assert_nothing_recovered(att: Attacker, explain: int = 1,
                             only: Sequence[str] | None = None,
                             moments_known_limit: bool = False) -> None:
    """Fail with every value the attacker recovers, and the released facts behind the first
    few of them (the smallest cells first). ``only``: fail only for these tiers of breach
    (``zero``, ``small``, ``complementary``). ``moments_known_limit``: do not fail for values
    only a mean and SD narrow (a documented limit of the gate, tested on its own)."""
    problems = att.check()
    assert att.targets, "nothing withheld: the scenario does not test anything"
    if moments_known_limit:
        problems = [p for p in problems if ", moments]" not in p]
        att.found_breaches = [f for f in att.found_breaches
                              if id(f) not in att._needs_score_bounds(att.found_breaches)]
    if only is not None:
        problems = [p for p in problems if p.startswith("[") and p[1:].split("]")[0].split(
            ",")[0] in only]
        att.found_breaches = [f for f in att.found_breaches if att.tier(f) in only]
    if problems:
        lines = ["withheld values recovered:", *problems]
        order = {"zero": 0, "small": 1, "complementary": 2}
        worst = sorted(att.found_breaches, key=lambda f: order[att.tier(f)])
        for f in worst[:explain]:
            lines += [f"-- how: {f.label} ({f.cell.label()}) follows from", *(
                f"     {line}" for line in why(att, f))]
        raise AssertionError("\n".join(lines))


def reports(root: Path, targets: list[str | None], findings: Any = None) -> dict:
    return gate_reports(load_study_data(open_study(root)), targets, findings=findings)


def read_reports(att: Attacker, gated: Mapping[Any, Any], label: str = "report") -> None:
    """Reports gated together are one release."""
    for i, (org, rep) in enumerate(gated.items()):
        read_report(att, rep.tables, SCALES, source=f"{label} {org or 'field'}",
                    findings=finding_bands(), same_release=i > 0)


def read_bundle(att: Attacker, folder: Path, source: str, same_release: bool = False) -> None:
    """A report's bundle as a reader gets it: its CSV tables."""
    tables = {}
    for path in sorted((folder / "bundle" / "tables").glob("*.csv")):
        tables[path.stem] = pd.read_csv(path, dtype={"wave": str, "org": str})
    read_report(att, tables, SCALES, source=source, findings=finding_bands(),
                same_release=same_release)



#: A pre-registered plan comparing lived-experience staff with other staff.
PLAN = """
title: Lived experience and burnout
registered: "2026-01-01"
description: Lived-experience staff against other staff.
confidence: 0.95
alpha: 0.05
multiple_testing: holm
bootstrap: {reps: 200, seed: 1}
min_organisations: 2
organisation: org
covariates: {}
hypotheses:
  - id: H1
    title: Lived-experience staff report more burnout
    rationale: Test.
    decision: Test.
    tests:
      - id: H1a
        kind: welch_t
        variable: burnout
        groups: {column: wf_lived_exp, first: 1, second: 2}
        effect: hedges_g
        direction: positive
        max_ci_width: 3
      - id: H1b
        kind: mann_whitney
        variable: wf_payband
        groups: {column: wf_lived_exp, first: 1, second: 2}
        effect: cliffs_delta
        direction: negative
        max_ci_width: 2
"""
