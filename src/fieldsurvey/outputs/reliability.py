"""``reliability``: alpha, omega and item statistics of an instrument's scales, gated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fieldsurvey.analyse.reliability import (
    analyse_reliability,
    reliability_parts,
    results_of_parts,
)
from fieldsurvey.disclosure import publish
from fieldsurvey.ingest.mapping import columns_as_items
from fieldsurvey.instrument import Instrument, resolve_instrument
from fieldsurvey.results import Results
from fieldsurvey.scoring import checked_answers
from fieldsurvey.store.study import STUDY_FILE

__all__ = ["reliability", "reliability_of"]


def reliability_of(
    source: str | Path,
    instrument: str,
    *,
    missing: str = "pairwise",
    ci: float = 0.95,
    min_cell: int | None = None,
    mapping: str | Path | None = None,
    command: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """:func:`reliability` of a data file, or of a study folder's stored responses.

    A study folder is analysed with its policy and release ledger (this output is judged with
    every other of the study); a file with the default policy. A file's rows are indexed by
    their row numbers in the file, so an answer error names the row to fix.

    Examples
    --------
    >>> summary, items, notes = reliability_of("my-study", "proqol5")  # doctest: +SKIP
    """
    from fieldsurvey.io import read_data

    inst = resolve_instrument(instrument)
    source = Path(source)
    study = None
    if source.is_dir() and (source / STUDY_FILE).is_file():
        from fieldsurvey.analyse.frame import load_frame  # the store (DuckDB): studies only

        frame = load_frame(source)
        table, study = frame.data, frame.study
        mapping = None  # stored responses are named by item id already
        del frame
    else:
        read = read_data(source)
        table = read.answers()
        table.index = pd.Index(read.row_numbers, name="row")  # so errors name the row of the file
        del read
    checked, keys = _checked(table, inst, mapping=mapping, source=source, study=study)
    # The read table is let go before the analysis: only the checked item answers (a view of
    # its numbers when they needed no change) are held from here on.
    del table
    parts = reliability_parts(checked, inst, missing=missing, ci=ci)
    # The answers are let go before the results and the gate, which need memory of their own:
    # from here on only the tables and who each statistic rests on are held.
    del checked
    results, notes = results_of_parts(parts, inst, missing=missing, keys=keys), parts.notes
    del parts  # its flags of who answered: the results hold them coded (12 MB at 60 x 200,000)
    return _gated_tables(results, notes, inst, study=study, min_cell=min_cell, source=source,
                         command=command)


def reliability(
    answers: pd.DataFrame,
    instrument: str,
    *,
    missing: str = "pairwise",
    ci: float = 0.95,
    min_cell: int | None = None,
    mapping: str | Path | None = None,
    source: str | Path = "",
    study: Any = None,
    command: str = "",
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The gated scale and item tables, and any warnings the analysis gave.

    With ``study`` (the answers are its stored responses) the study's policy and release
    ledger apply; otherwise the default policy and an in-memory ledger. ``mapping`` (a mapping
    file as for ingest) renames the data's columns to item ids first. Answers are read with
    the parser ``score`` uses, so an answer ``score`` refuses (3.5 on a Likert item, a label)
    is refused here the same way, naming its row and column.

    Examples
    --------
    >>> summary, items, notes = reliability(answers, "proqol5")  # doctest: +SKIP
    """
    inst = resolve_instrument(instrument)
    checked, keys = _checked(answers, inst, mapping=mapping, source=source, study=study)
    results, notes = analyse_reliability(checked, inst, missing=missing, ci=ci, keys=keys)
    return _gated_tables(results, notes, inst, study=study, min_cell=min_cell, source=source,
                         command=command)


def _checked(answers: pd.DataFrame, inst: Instrument, *, mapping: str | Path | None,
             source: str | Path, study: Any) -> tuple[pd.DataFrame, pd.Series | None]:
    """The instrument's item answers checked as ``score`` checks them, and the respondent keys
    of a study's responses (None for a file)."""
    if mapping:
        answers = columns_as_items(answers, [inst], Path(mapping))
    keys = None
    if study is not None:
        from fieldsurvey.analyse.frame import respondent_keys

        keys = respondent_keys(answers)
    # The analysis reads the instrument's items only: their checked numbers are its data (no
    # copy of the whole table with them written in).
    return checked_answers(answers, inst, source=Path(source).name), keys


def _gated_tables(results: Results, notes: list[str], inst: Instrument, *, study: Any,
                  min_cell: int | None, source: str | Path, command: str
                  ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The scale and item tables of ``results`` as the gate lets them be shown."""
    gated = publish(results, study, min_cell=min_cell,
                    output=f"reliability:{inst.id}:{Path(source).name}", command=command)
    out = []
    for name in ("scales", "items"):
        table = gated.tables[name].drop(columns=["sample", "n", "suppressed"], errors="ignore")
        table = table.drop(columns=["measure"], errors="ignore")
        table = table.rename(columns={"n_answered": "n"})
        if "n" in table:  # counts print as counts (withheld ones stay missing)
            table["n"] = pd.to_numeric(table["n"], errors="coerce").round().astype("Int64")
        out.append(table)
    summary = out[0]
    if "alpha" in summary and "note" in summary:
        # A scale the analysis skipped keeps its own note (which items are missing).
        no_note = summary["note"].isna() | (summary["note"].astype(str).str.strip() == "")
        withheld = summary["alpha"].isna() & no_note
        text = (f"withheld: too few respondents to show safely (minimum cell size "
                f"{gated.policy.min_cell})")
        summary["note"] = summary["note"].astype(object).where(~withheld, text)
    return summary, out[1], notes
