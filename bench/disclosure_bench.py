"""Time the disclosure gate on a benchmark-sized release and print figures.

Usage: python bench/disclosure_bench.py [n_orgs] [seed]

Release: organisations of lognormal size (median ~25), three roles, a sensitive
lived-experience flag and two waves; tables: org x role with all margins, org x lived
experience, org x wave, and the burnout mean for each cell of the org x role table.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from fieldsurvey.disclosure import DisclosurePolicy, Release, audit, gate


def make_people(n_orgs: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = np.clip(rng.lognormal(np.log(25), 0.9, n_orgs).astype(int), 3, 600)
    org = np.repeat([f"org{i:04d}" for i in range(n_orgs)], sizes)
    n = len(org)
    return pd.DataFrame(
        {
            "org": org,
            "role": rng.choice(["frontline", "supervisor", "manager"], n, p=[0.65, 0.25, 0.10]),
            "lived_experience": rng.choice(["no", "yes"], n, p=[0.8, 0.2]),
            "wave": rng.choice([1, 2], n),
            "burnout": rng.normal(23, 5, n),
        }
    )


def make_release(people: pd.DataFrame) -> Release:
    rel = Release(people, ["org", "role", "lived_experience", "wave"])

    def table(by: list[str]) -> pd.DataFrame:
        # Every margin of the cross: e.g. org x role, org, role, total.
        parts = []
        for keep in range(1 << len(by)):
            cols = [b for i, b in enumerate(by) if keep >> i & 1]
            grouped = (
                people.groupby(cols)["burnout"].mean().reset_index()
                if cols
                else pd.DataFrame({"burnout": [people["burnout"].mean()]})
            )
            parts.append(grouped)
        return pd.concat(parts, ignore_index=True)[[*by, "burnout"]]

    rel.add_table("org_role", table(["org", "role"]), {"burnout": "mean"})
    rel.add_table("org_le", table(["org", "lived_experience"]).drop(columns="burnout"))
    rel.add_table("org_wave", table(["org", "wave"]).drop(columns="burnout"))
    return rel


def main() -> None:
    n_orgs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    people = make_people(n_orgs, seed)
    rel = make_release(people)
    cells = sum(len(t.cells) for t in rel.tables.values())
    # CPU time as well as wall time: the development machine is shared, so wall time is noisy.
    t0, c0 = time.perf_counter(), time.process_time()
    gated = gate(rel, DisclosurePolicy(min_cell=10))
    t1, c1 = time.perf_counter(), time.process_time()
    result = audit(gated)
    t2, c2 = time.perf_counter(), time.process_time()
    print(f"organisations={n_orgs} respondents={len(people)} cells={cells}")
    print(f"atoms={len(gated.structure.atom_n)} units={gated.structure.n_units}")
    print(gated.summary().to_string(index=False))
    print(f"gate_wall_s={t1 - t0:.2f} gate_cpu_s={c1 - c0:.2f}")
    print(f"audit_wall_s={t2 - t1:.2f} audit_cpu_s={c2 - c1:.2f} audit_passed={result.passed}")


if __name__ == "__main__":
    main()
