"""The data an analysis command works on: a study's scored responses, or a scored data file.

:func:`load_frame` is the one loader of the analysis commands (``compare``, ``benchmark``,
``reliability``, ``reproduce``, ``run-plan``): it reads a study folder (stored responses with
exclusions applied, scored with the study's instruments, each response with a stable key for
the release ledger) or a data file scored with the instruments given.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fieldsurvey.ingest.mapping import columns_as_items
from fieldsurvey.instrument import Instrument, resolve_instrument
from fieldsurvey.io import read_data
from fieldsurvey.scoring import score_scales, scored_responses
from fieldsurvey.store import Study, StudyError, open_study
from fieldsurvey.store.database import respondent_keys
from fieldsurvey.store.study import STUDY_FILE

__all__ = ["NOT_STATED", "AnalysisFrame", "group_categories", "group_labels", "load_frame",
           "respondent_keys"]

#: The category of a respondent who gave no answer: counted and protected like any other.
NOT_STATED = "not stated"


@dataclass
class AnalysisFrame:
    """Scored respondents with what the gate needs to know about them."""

    data: pd.DataFrame
    instruments: list[Instrument]
    study: Study | None = None
    keys: pd.Series | None = None

    def scale_ids(self, chosen: tuple[str, ...] | list[str] = ()) -> list[str]:
        """The scales to analyse: ``chosen`` (checked), or every scale with scores."""
        available = [sc.id for inst in self.instruments for sc in inst.scales
                     if sc.id in self.data]
        if not available:
            raise StudyError("nothing to analyse: the instruments "
                             f"({', '.join(i.id for i in self.instruments)}) have no scored scales")
        if not chosen:
            return available
        unknown = [s for s in chosen if s not in available]
        if unknown:
            raise StudyError(
                f"unknown scale(s) {', '.join(unknown)}; available: {', '.join(available)}")
        return list(chosen)

    def weights(self) -> pd.Series | None:
        """Survey weights when the study gives staff head counts (else None)."""
        if self.study is None:
            return None
        staff = self.study.staff_table()
        if staff is None:
            return None
        from fieldsurvey.compare import survey_weights

        return survey_weights(self.data, staff, org="org", role=self.study.config.role_column,
                              method=self.study.config.weighting)


def load_frame(source: str | Path, instruments: tuple[str, ...] | list[str] = (),
               mapping: str | Path | None = None) -> AnalysisFrame:
    """Scored data from a study folder, or from a data file scored with ``instruments``.

    A data file's declared missing codes (SPSS user-missing, Stata ``.a``-``.z``) are missing;
    ``mapping`` (a mapping file, as for ``ingest``) names its columns by item id.

    Examples
    --------
    >>> frame = load_frame("my-study")  # doctest: +SKIP
    >>> frame.keys.iloc[0]  # doctest: +SKIP
    'O01|1|R_1'
    """
    source = Path(source)
    if source.is_dir() and (source / STUDY_FILE).is_file():
        study = open_study(source)
        data = scored_responses(study).reset_index(drop=True)
        return AnalysisFrame(data, study.instruments(), study, respondent_keys(data))
    if source.is_dir():
        raise StudyError(f"{source}: not a study folder (no {STUDY_FILE})")
    if not instruments:
        raise StudyError("a data file needs its instruments: give -i INSTRUMENT (repeatable)")
    read = read_data(source)
    table = read.answers()
    insts = [resolve_instrument(i) for i in instruments]
    if mapping:
        table = columns_as_items(table, insts, Path(mapping))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = score_scales(table, [i for i in insts if i.scales], source=source.name,
                              row_numbers=read.row_numbers)
    new = [c for c in scores.columns if c not in table.columns and c != "row"]
    data = pd.concat([table, scores[new]], axis=1).reset_index(drop=True)
    return AnalysisFrame(data, insts)


def group_labels(frame: AnalysisFrame, column: str) -> pd.Series:
    """A grouping column as text categories: answer labels for coded items, "not stated" for
    a missing answer (so everyone is counted in some group)."""
    data = frame.data
    if column not in data:
        raise StudyError(f"no column {column!r} to group by")
    values: Any = None
    for inst in frame.instruments:
        if column in inst.item_ids:
            labels = inst.response_scale_of(column).labels
            if labels:
                codes = pd.to_numeric(data[column], errors="coerce").astype("Int64")
                values = codes.map(labels, na_action="ignore").astype(object)
    if values is None:
        values = data[column].astype("string").astype(object)
    values = values.where(pd.notna(values), NOT_STATED)
    return values.map(str).astype(object).reset_index(drop=True)


def group_categories(frame: AnalysisFrame, column: str) -> list[str]:
    """Every category :func:`group_labels` can give ``column``: the answer labels of a coded
    item (a role nobody chose is a group too, and a table that leaves it out must not say it
    is empty), and "not stated"; for other columns, the values observed."""
    for inst in frame.instruments:
        if column in inst.item_ids:
            labels = inst.response_scale_of(column).labels
            if labels:
                return [*(str(v) for v in labels.values()), NOT_STATED]
    return list(pd.unique(group_labels(frame, column)))
