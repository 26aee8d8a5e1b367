"""Plain data files from researchers (SPSS, Stata, SAS, Excel, CSV) whose columns are item ids.

They have no platform layout: the response id is the first column named ``response_id``,
``ResponseId``, ``record_id``, ``id`` or ``respondent_id`` (any case); without one, ids are made
from the row number (``row-2`` for the first data row), so re-sending a changed file cannot be
told apart from new responses: give such files an id column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.ingest.export import PlatformExport, build_export
from fieldsurvey.io import read_data

ID_NAMES = ("response_id", "responseid", "record_id", "respondent_id", "id")


def read_plain_table(path: str | Path) -> PlatformExport:
    """Read a plain data file as a :class:`PlatformExport` with platform ``"table"``."""
    path = Path(path)
    read = read_data(path)
    table = read.frame
    folded = {str(c).casefold(): c for c in table.columns}
    id_col = next((folded[name] for name in ID_NAMES if name in folded), None)
    notes = list(read.notes)
    if id_col is None:
        id_col = "response_id"
        table.insert(0, id_col, [f"row-{i}" for i in range(2, len(table) + 2)])
        notes.append("no response id column: ids made from row numbers (row-2, row-3, ...)")
    # Numbers as the file shows them: SPSS and read_table give floats, but a 7 is "7", not "7.0".
    text = table.apply(_as_text)
    return build_export(
        table=text,
        platform="table",
        file=path.name,
        response_id_column=str(id_col),
        row_numbers=np.asarray(read.row_numbers, dtype=np.int64),
        missing_codes=read.missing_codes,
        # SPSS/Stata variable and value labels (value labels also name declared missing codes).
        labels=read.labels,
        value_labels=read.value_labels,
        notes=notes,
    )


def _as_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if len(finite) and (finite == finite.round()).all() and (finite.abs() < 2**53).all():
            return values.astype("Int64").astype("string")
    return values.astype("string")


__all__ = ["ID_NAMES", "read_plain_table"]
