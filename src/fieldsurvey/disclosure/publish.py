"""Publishing results: the study's policy, its ledger, the gate and the audit, in one call."""

from __future__ import annotations

from typing import Any

from fieldsurvey.disclosure.audit import audit
from fieldsurvey.disclosure.ledger import Ledger
from fieldsurvey.disclosure.policy import DisclosureError, policy_for
from fieldsurvey.disclosure.suppression import GatedRelease, gate
from fieldsurvey.results import Results


def publish(
    results: Results,
    study: Any = None,
    *,
    min_cell: int | None = None,
    output: str,
    command: str = "",
    ledger: Ledger | None = None,
    record: bool = True,
) -> GatedRelease:
    """Gate results with the study's policy against its release ledger, audit, and record them.

    This is how every output of fieldsurvey reaches users: nothing is printed or written that
    did not come back from here.

    Parameters
    ----------
    results : Results
        What the output means to show.
    study : Study, optional
        The study the results describe: its settings give the policy and its store keeps the
        ledger. None for data outside a study (minimum cell size 10, an in-memory ledger).
    min_cell : int, optional
        A larger minimum cell size for this output (never a smaller one than the study's).
    output, command : str
        What the ledger records: the kind of output and the command line that made it.
    ledger : Ledger, optional
        Defaults to the study's ledger (or a new in-memory one).
    record : bool
        False to judge without recording (a check that releases nothing).

    Returns
    -------
    GatedRelease

    Examples
    --------
    >>> import pandas as pd
    >>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 4})
    >>> results = Results(people, ["org"]).add_table("t", pd.DataFrame({"org": ["A", "B"]}))
    >>> publish(results, output="example")["t"]["n"].tolist()
    [12, <NA>]
    """
    policy = policy_for(study, min_cell=min_cell)
    if ledger is None:
        ledger = Ledger.for_study(study) if study is not None else Ledger.in_memory()
    gated = gate(results, policy, ledger=ledger, output=output, command=command, record=record)
    if gated.reused:  # the same results were released (and audited) before
        return gated
    found = audit(gated)
    if not found.passed:  # never expected: the gate protects until its own checks pass
        raise DisclosureError(f"disclosure audit failed: {found.violations.head(3)}")
    return gated
