"""Ingest speed: a 1,000,000-row x 60-item Qualtrics-layout CSV into a new study.

Writes the CSV (three header rows as Qualtrics exports, with personal-data metadata columns),
then times ``ingest_file`` into a fresh study and prints wall time and peak memory (RSS).
Target: <= 30 s and <= 4 GB on a 2-core machine.

    python bench/ingest_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.store import init_study


def write_qualtrics_csv(path: Path, rows: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    items = [f"pq{i:02d}" for i in range(1, 31)]
    items += [f"sc_{s}{j}" for s in ("pay", "fin", "work", "sup", "train", "lead", "peer", "safe")
              for j in range(1, 5)][:30]
    meta = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
            "Finished", "RecordedDate", "ResponseId", "RecipientEmail", "LocationLatitude",
            "LocationLongitude", "wf_org"]
    columns = meta + items
    header2 = columns
    header3 = [json.dumps({"ImportId": f"QID{i}"}) for i in range(len(columns))]
    answers = rng.integers(1, 6, size=(rows, len(items))).astype(float)
    answers[rng.random(answers.shape) < 0.03] = np.nan
    frame = pd.DataFrame(answers, columns=items).astype("Int64")
    frame.insert(0, "wf_org", np.char.add("O", rng.integers(1, 500, rows).astype(str)))
    frame.insert(0, "LocationLongitude", "-71.05")
    frame.insert(0, "LocationLatitude", "42.36")
    frame.insert(0, "RecipientEmail", "someone@example.org")
    frame.insert(0, "ResponseId", np.char.add("R_", np.arange(rows).astype(str)))
    frame.insert(0, "RecordedDate", "2026-05-01 10:00:00")
    frame.insert(0, "Finished", 1)
    frame.insert(0, "Duration (in seconds)", rng.integers(120, 1800, rows))
    frame.insert(0, "Progress", 100)
    frame.insert(0, "IPAddress", "192.0.2.1")
    frame.insert(0, "Status", 0)
    frame.insert(0, "EndDate", "2026-05-01 10:00:00")
    frame.insert(0, "StartDate", "2026-05-01 09:50:00")
    with path.open("w", encoding="utf-8", newline="") as handle:
        pd.DataFrame([header2, header3], columns=columns).to_csv(handle, index=False)
        frame.to_csv(handle, index=False, header=False)
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "qualtrics.csv"
        start = time.perf_counter()
        write_qualtrics_csv(csv, args.rows)
        print(f"wrote {args.rows:,}-row Qualtrics CSV ({csv.stat().st_size / 2**20:.0f} MiB) "
              f"in {time.perf_counter() - start:.1f} s")
        study = init_study(Path(tmp) / "study", ["workforce-context", "proqol5", "structural-conditions"],
                           org_column="wf_org")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        summary = ingest_file(study, csv)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"ingest: {elapsed:.1f} s, peak RSS {peak:.2f} GB (before ingest {before / 2**20:.2f} GB)"
              f"  [target <= 30 s, <= 4 GB]")
        print(f"rows read {summary.rows_read:,} = stored {summary.stored:,} + quarantined "
              f"{summary.quarantined:,}; dropped: {[d['column'] for d in summary.dropped_personal]}")


if __name__ == "__main__":
    main()
