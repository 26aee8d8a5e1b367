"""The gate's choices do not depend on the CPU's BLAS kernels (``rowspace.tie_weights``).

``tests/data/rowspace_ties.npz`` is one system the gate factorised while judging the reports
of an 8-organisation synthetic study (179 published rows over 264 atoms, 0/1) and the 34
withheld cells it asked about. Its rows are full of exact ties. Without the tie weights,
OpenBLAS's Haswell and Sandybridge kernels (both run on any x86-64 CPU with AVX2) named
different rows for all 34 recoveries on an AMD EPYC, and the gate then withheld different
cells. Each kernel runs in its own process: OpenBLAS reads ``OPENBLAS_CORETYPE`` at start-up.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "data" / "rowspace_ties.npz"
KERNELS = ("Sandybridge", "Haswell")

SCRIPT = """
import json, sys
import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_info
import fieldsurvey.disclosure.rowspace as rowspace

step, path = float(sys.argv[1]), sys.argv[2]
if step >= 0:
    rowspace.TIE_STEP = step
f = np.load(path)
a = sparse.csr_matrix((np.ones(f["indices"].size), f["indices"], f["indptr"]),
                      shape=tuple(f["shape"]))
used = rowspace.RowSpace(a).rows_used(f["h"].astype(float))
kernels = [p.get("architecture") for p in threadpool_info() if p["internal_api"] == "openblas"]
print(json.dumps({"kernels": kernels, "used": [u.tolist() for u in used]}))
"""


def _has_avx2() -> bool:
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def _rows_used(kernel: str, step: float) -> list[list[int]]:
    env = {**os.environ, "OPENBLAS_CORETYPE": kernel}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(step), str(FIXTURE)], env=env,
                          capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    # numpy and scipy each bundle an OpenBLAS: both must run the kernel asked for.
    if not out["kernels"] or {k.lower() for k in out["kernels"]} != {kernel.lower()}:
        pytest.skip(f"numpy's OpenBLAS did not run the {kernel} kernel: {out['kernels']}")
    return out["used"]


pytestmark = pytest.mark.skipif(
    platform.machine() != "x86_64" or not _has_avx2(),
    reason="the Haswell and Sandybridge kernels need an x86-64 CPU with AVX2",
)


def test_recoveries_name_the_same_rows_on_both_kernels() -> None:
    first, second = (_rows_used(k, -1.0) for k in KERNELS)
    assert len(first) == 34
    assert first == second


def test_the_fixture_still_has_ties_that_rounding_breaks() -> None:
    """Without the weights the two kernels disagree: the fixture still tests something."""
    first, second = (_rows_used(k, 0.0) for k in KERNELS)
    if first == second:
        pytest.skip("on this CPU the kernels round these ties alike even without weights")
    assert sum(a != b for a, b in zip(first, second, strict=True)) > 0
