"""A file's tallies over the crossings earlier tables used (issue 14, point 4).

An earlier output showed organisation x role x answer tables with their margins and withheld
the small three-way cells (and their complements). The file's tallies by wave x organisation
and by one other column at a time give back only the margins the table showed; its tally over
organisation x role x answer gives back the withheld cells. So the file is judged with that
tally too: it comes out coarser (or not at all), and no withheld cell can be recovered from it
and the table, directly or as an "other" group minus the organisations shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from fieldsurvey.disclosure import Ledger, Results, publish
from fieldsurvey.disclosure.file_release import (
    FILE_DIM_PREFIX,
    file_results,
    judge_file,
    revealed_dimensions,
)
from fieldsurvey.disclosure.microdata import export_microdata
from fieldsurvey.disclosure.policy import DisclosureError
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.store import init_study, load_responses, open_study
from fieldsurvey.store.database import respondent_keys
from fieldsurvey.synthetic import generate_coalition

ROLE_LABELS = {1: "front-line", 2: "manager"}


def _three_organisations() -> tuple[pd.DataFrame, pd.Series]:
    """A (40 people), B and C (60 each) by role (1, 2) and answer (2, 4): every organisation
    x role and organisation x answer count is 10 or more; A's role 1 x answer 2 is 3."""
    rows = []
    for org, plan in {"A": [(1, 2, 3), (1, 4, 17), (2, 2, 10), (2, 4, 10)],
                      "B": [(1, 2, 15), (1, 4, 15), (2, 2, 15), (2, 4, 15)],
                      "C": [(1, 2, 12), (1, 4, 18), (2, 2, 14), (2, 4, 16)]}.items():
        rows += [{"org": org, "wf_role": r, "pq01": str(a)} for r, a, n in plan for _ in range(n)]
    people = pd.DataFrame(rows)
    return people, pd.Series([f"{o}|1|r{i}" for i, o in enumerate(people["org"])])


def _table(people: pd.DataFrame, keys: pd.Series, ledger: Ledger) -> pd.DataFrame:
    """The earlier output: organisation x role (as labels) x answer, with every margin."""
    dims = pd.DataFrame({"org": people["org"], "role": people["wf_role"].map(ROLE_LABELS),
                         "pq01": people["pq01"]})
    results = Results(dims, list(dims.columns), keys=keys)
    cells = [{"org": o, "role": r, "pq01": a} for o in ("A", "B", "C")
             for r in [None, *ROLE_LABELS.values()] for a in [None, "2", "4"]]
    results.add_table("roles", pd.DataFrame(cells))
    return publish(results, None, output="roles-table", ledger=ledger).tables["roles"]


def test_a_group_minus_shown_organisations_gives_no_withheld_three_way_cell():
    """The file names C and releases A and B as one "other" group (as k-anonymity groups
    small organisations). Its group's role x answer tally minus B's counts, which the table
    showed, is A's withheld count: the gate must see that tally."""
    people, keys = _three_organisations()
    ledger = Ledger.in_memory()
    table = _table(people, keys, ledger)
    cell = table[(table["org"] == "A") & (table["role"] == "front-line")
                 & (table["pq01"] == "2")]
    assert cell["n"].isna().all(), "the table withholds A's small cell"
    margins = table[table["role"].isna() | table["pq01"].isna()]
    assert margins["n"].notna().all(), "and shows every margin"
    shown_b = table[(table["org"] == "B") & table["role"].notna() & table["pq01"].notna()]
    assert shown_b["n"].notna().all(), "and every cell of B"

    released = people.assign(wave="1", org=people["org"].replace({"A": "other", "B": "other"}))
    # The attack the file allows: the group's count minus B's shown one.
    group = int(((released["org"] == "other") & (released["wf_role"] == 1)
                 & (released["pq01"] == "2")).sum())
    b = int(shown_b.loc[(shown_b["role"] == "front-line") & (shown_b["pq01"] == "2"),
                        "n"].iloc[0])
    assert group - b == 3

    revealed, domains, linked = revealed_dimensions(ledger, keys, columns=["pq01"], scales=[])
    assert len(revealed.columns) == 1
    results = file_results(released.drop(columns=["pq01"]), keys, ["wave", "org", "wf_role"],
                           revealed, domains, linked, true_org=people["org"])
    judged = judge_file(results, None, ledger, real_orgs=["A", "B", "C"])
    assert judged.exposed, "the group's three-way tally gives A's withheld cell"
    assert judged.organisations == {"A"}

    # Released with no organisation, the field's tally minus B's and C's shown cells gives it.
    field = people.assign(wave="1", org="all organisations")
    results = file_results(field.drop(columns=["pq01"]), keys, ["wave", "org", "wf_role"],
                           revealed, domains, linked, true_org=people["org"])
    assert judge_file(results, None, ledger, real_orgs=["A", "B", "C"]).exposed


def test_recorded_crossings_map_a_tables_dimensions_to_the_files_columns():
    """A table's ``role`` labels the file's ``wf_role``; its ``pq01`` is the file's item (a
    revealed dimension); wave and organisation are the file's own tallies."""
    from fieldsurvey.disclosure.file_release import recorded_crossings, with_recorded_crossings

    rng = np.random.default_rng(3)
    n = 200
    role_code = rng.choice([1, 2, 3], n)
    people = pd.DataFrame({
        "org": np.repeat(["A", "B"], n // 2),
        "role": pd.Series(role_code).map({1: "front-line", 2: "manager", 3: "admin"}),
        "pq01": rng.choice(["2", "4"], n),
        "tenure": rng.choice(["short", "long"], n),
        "wave": "1",
    })
    keys = pd.Series([f"k{i}" for i in range(n)])
    ledger = Ledger.in_memory()
    release = Results(people, list(people.columns), keys=keys)
    cells = people[["wave", "org", "role", "pq01"]].drop_duplicates()
    release.add_table("t", cells)
    release.add_table("u", people[["org", "tenure"]].drop_duplicates())
    publish(release, None, output="t", ledger=ledger)
    data = pd.DataFrame({"wave": "1", "org": people["org"], "wf_role": role_code,
                         "wf_tenure": rng.integers(1, 4, n)})
    # The table's wave is revealed too (the file holds it as it is), and is no crossing.
    revealed, domains, _ = revealed_dimensions(ledger, keys, columns=["pq01", "wave"],
                                               scales=[])
    assert len(revealed.columns) == 2
    made = file_results(data, keys, ["wave", "org", "wf_role", "wf_tenure"], revealed, domains)
    crossings = recorded_crossings(ledger, made)
    pq01 = next(c for c in revealed.columns if c.startswith("pq01@"))
    assert crossings == [tuple(sorted([f"{FILE_DIM_PREFIX}wf_role", pq01]))]
    crossed = with_recorded_crossings(made, ledger).tables["file"].cells
    three = crossed.dropna(subset=[f"{FILE_DIM_PREFIX}wf_role", pq01])
    # A full cross, zeros included: 1 wave x 2 organisations x 3 roles x (2 answers + absent).
    assert len(three) == 2 * 3 * 3
    expected = pd.crosstab([data["org"], data["wf_role"]], people["pq01"]).stack()
    got = three.set_index(["file:org", f"{FILE_DIM_PREFIX}wf_role", pq01])["n"]
    for (org, role, answer), value in expected.items():
        assert got[(org, str(role), answer)] == value
    # The single crossings are all still there.
    assert len(crossed) == len(made.tables["file"].cells) + len(three)

    # Released as one group, each organisation's own cells of the crossing stay withheld.
    grouped = file_results(data.assign(org="other"), keys, ["wave", "org", "wf_role",
                                                          "wf_tenure"],
                           revealed, domains, true_org=people["org"])
    hidden = with_recorded_crossings(grouped, ledger).tables["withheld"].cells
    own = hidden.dropna(subset=[f"{FILE_DIM_PREFIX}wf_role", pq01])
    assert len(own) == 2 * 3 * 3 and set(own["org"]) == {"A", "B"}
    assert own[f"{FILE_DIM_PREFIX}wf_tenure"].isna().all()


#: Each organisation's people of wave 1 by (role, answer to pq01), and its wave-2 people.
WAVE1 = {"O01": [(1, 2, 3), (1, 4, 17), (2, 2, 10), (2, 4, 10)],
         "O02": [(1, 2, 15), (1, 4, 15), (2, 2, 15), (2, 4, 15)],
         "O03": [(1, 2, 12), (1, 4, 18), (2, 2, 14), (2, 4, 16)]}
WAVE2 = {"O01": 5, "O02": 20, "O03": 20}


def _two_wave_study(root):
    """O01 has 5 people in wave 2, so k-anonymity (by wave, organisation the only key, no
    local suppression) releases it only inside a group with O02; in wave 1 every organisation
    x role and organisation x answer count is 10 or more, and O01's role 1 x answer 2 is 3."""
    study = init_study(root / "study", ["workforce-context", "proqol5"], org_column="wf_org",
                       waves=["1", "2"])
    path = study.root / "study.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["microdata"] = {"key_variables": ["org"], "sensitive": [], "max_suppression": 0.0}
    path.write_text(yaml.safe_dump(raw))
    data = generate_coalition(n_orgs=3, seed=7, waves=1, staff_per_org=150,
                              instruments=("workforce-context", "proqol5")).responses
    waves: dict[str, list[pd.DataFrame]] = {"1": [], "2": []}
    for org, rows in data.groupby(data["wf_org"].astype(str)):
        plan = [(r, a) for r, a, n in WAVE1[org] for _ in range(n)]
        first = rows.iloc[:len(plan)].assign(wf_role=[r for r, _ in plan],
                                             pq01=[a for _, a in plan])
        waves["1"].append(first)
        waves["2"].append(rows.iloc[len(plan):len(plan) + WAVE2[org]])
    study = open_study(study.root)
    for wave, parts in waves.items():
        csv = root / f"wave{wave}.csv"
        pd.concat(parts).drop(columns=["org", "wave"]).to_csv(csv, index=False)
        ingest_file(study, csv, wave=wave)
    return open_study(study.root)


def test_an_export_after_the_table_gives_back_no_withheld_three_way_cell(tmp_path):
    study = _two_wave_study(tmp_path)
    frame = load_responses(study)
    first = frame[frame["wave"].astype(str) == "1"].reset_index(drop=True)
    assert first.groupby("org").size().to_dict() == {o: 40 if o == "O01" else 60 for o in WAVE1}
    dims = pd.DataFrame({"org": first["org"].astype(str),
                         "wf_role": pd.to_numeric(first["wf_role"]).astype(int).astype(str),
                         "pq01": pd.to_numeric(first["pq01"]).astype(int).astype(str)})
    results = Results(dims, list(dims.columns), keys=respondent_keys(first))
    cells = [{"org": o, "wf_role": r, "pq01": a} for o in WAVE1
             for r in [None, "1", "2"] for a in [None, "2", "4"]]
    results.add_table("roles", pd.DataFrame(cells))
    table = publish(results, study, output="roles-table", command="test").tables["roles"]
    assert table.loc[(table["org"] == "O01") & (table["wf_role"] == "1")
                     & (table["pq01"] == "2"), "n"].isna().all()
    assert table.loc[table["org"] != "O01", "n"].notna().all()

    try:
        result = export_microdata(study, "csv", tmp_path / "file.csv", seed=1)
    except DisclosureError as refused:
        # No coarsening step leaves out a single item: with no organisation, the field's
        # count minus the shown ones of O02 and O03 still gives O01's. Nothing is written.
        assert "withheld" in str(refused)
        assert Ledger.for_study(study).releases()["output"].tolist() == ["roles-table"]
        assert not (tmp_path / "file.csv").exists()
        return
    released = pd.read_csv(result.path)
    wave1 = released[released["wave"].astype(str) == "1"]
    shown = {(r.org, r.wf_role, r.pq01): int(r.n) for r in table.itertuples() if pd.notna(r.n)}
    named = set(wave1["org"].dropna()) & set(WAVE1)
    groups = [g for g in wave1["org"].dropna().unique() if g not in WAVE1]
    assert "O01" not in named, "k-anonymity releases O01 only inside a group"
    assert len(groups) == 1
    count = int(((wave1["org"] == groups[0]) & (wave1["wf_role"] == 1)
                 & (wave1["pq01"] == 2)).sum())
    others = set(WAVE1) - named - {"O01"}
    assert not all((o, "1", "2") in shown for o in others) or \
        count - sum(shown[(o, "1", "2")] for o in others) != 3
