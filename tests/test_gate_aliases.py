"""A table every report carries (the same all-organisations table) is judged once.

``Results.include`` keeps an identical table once and records its other names as aliases; the
gate must decide exactly what it decides with every copy judged, show the table under each
name, record it under each name, and recognise one report rebuilt alone.
"""

from __future__ import annotations

import pandas as pd
import pytest

from fieldsurvey.disclosure import Ledger, audit, gate
from fieldsurvey.disclosure.policy import policy_for
from fieldsurvey.disclosure.suppression import results_fingerprint
from fieldsurvey.results import Results

ORGS = ["A", "B", "C", "D"]


def _people() -> pd.DataFrame:
    sizes = {"A": 14, "B": 12, "C": 3, "D": 11}
    rows = [(o, "frontline" if i % 3 else "manager") for o, n in sizes.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["org", "role"])


def _keys(people: pd.DataFrame) -> list[str]:
    return [f"r{i}" for i in range(len(people))]


def _report(people: pd.DataFrame, org: str) -> Results:
    """One organisation's report: the all-organisations table and its own roles."""
    part = Results(people, ["org", "role"], keys=_keys(people))
    part.add_table("_organisations", pd.DataFrame({"org": [*ORGS, None]}))
    part.add_table("roles", pd.DataFrame({"org": [org] * 3, "role": [None, "frontline",
                                                                     "manager"]}))
    return part


def _combined(people: pd.DataFrame, orgs: list[str]) -> Results:
    container = Results(people, ["org", "role"], keys=_keys(people))
    for org in orgs:
        container.include(_report(people, org), f"org:{org}")
    return container


def test_identical_tables_are_kept_once_with_their_other_names() -> None:
    combined = _combined(_people(), ORGS)
    assert [n for n in combined.tables if n.endswith("_organisations")] == ["org:A/_organisations"]
    assert combined.aliases == {f"org:{o}/_organisations": "org:A/_organisations"
                                for o in ORGS[1:]}
    assert sum(n.endswith("/roles") for n in combined.tables) == 4  # they differ: all kept


def test_gate_decides_as_if_every_copy_were_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    people = _people()
    with_aliases = gate(_combined(people, ORGS))
    monkeypatch.setattr(Results, "_same_table", lambda self, *args: None)
    every_copy = _combined(people, ORGS)
    assert not every_copy.aliases
    judged = gate(every_copy)
    assert set(with_aliases.tables) == set(judged.tables)
    for name, table in judged.tables.items():
        pd.testing.assert_frame_equal(with_aliases.tables[name], table, obj=name)
    # C (3 people) is withheld in every copy, and with it one more organisation.
    shown = with_aliases.tables["org:D/_organisations"]
    assert shown.loc[shown["org"] == "C", "suppressed"].all()
    assert audit(with_aliases).passed


def test_every_name_is_recorded_and_one_report_rebuilt_alone_is_recognised() -> None:
    people = _people()
    ledger = Ledger.in_memory()
    combined = _combined(people, ORGS)
    first = gate(combined, ledger=ledger, output="reports")
    alone = _combined(people, ["C"])
    assert not alone.aliases
    policy = policy_for(None)
    assert (results_fingerprint(alone, policy)["org:C"]
            == results_fingerprint(combined, policy)["org:C"])
    again = gate(alone, ledger=ledger, output="reports")
    assert again.reused
    for name in ("org:C/_organisations", "org:C/roles"):
        pd.testing.assert_frame_equal(again.tables[name], first.tables[name], obj=name)
