"""Cleaned data out of the store, for SPSS, Stata, R and spreadsheet users.

The export holds the stored responses after the study's exclusion rules, one column per item,
with variable labels (the item's label or id: never licensed wording) and value labels (the
response scale's labels). Free text and personal data are never in it: they never entered the
responses table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat

from fieldsurvey.store.database import load_responses
from fieldsurvey.store.study import Study

FORMATS = ("csv", "parquet", "sav", "dta")
_DROP = ["batch_id"]


def export_data(study: Study, fmt: str, out: str | Path | None = None) -> Path:
    """Write the cleaned data as CSV, Parquet, SPSS (.sav) or Stata (.dta); return the path."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    frame = load_responses(study).drop(columns=_DROP, errors="ignore")
    out = Path(out) if out else study.exports_dir / f"responses.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    variable_labels, value_labels = _labels(study, frame)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    elif fmt == "parquet":
        frame.to_parquet(out, index=False)
    else:
        frame = _for_stats_package(frame)
        labels = [variable_labels.get(c, c) for c in frame.columns]
        if fmt == "dta":  # Stata allows 80 characters per variable label
            labels = [label if len(label) <= 80 else label[:77] + "..." for label in labels]
        writer = pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta
        writer(frame, str(out), column_labels=labels, variable_value_labels=value_labels)
    return out


def _labels(study: Study, frame: pd.DataFrame) -> tuple[dict[str, str], dict[str, dict[int, str]]]:
    variable: dict[str, str] = {"org": "Organisation", "wave": "Wave", "response_id": "Response id",
                                "source_row": "Row in the source file", "finished": "Finished (platform)",
                                "progress": "Progress % (platform)", "duration_seconds": "Duration in seconds"}
    values: dict[str, dict[int, str]] = {}
    for inst in study.instruments():
        for item in inst.items:
            if item.id not in frame.columns:
                continue
            own_words = inst.licence.wording_included and item.text
            variable[item.id] = (next(iter(item.text.values())) if own_words else None) or item.label or item.id
            rs = inst.response_scales[item.scale]
            if rs.labels:
                values[item.id] = {int(k): v for k, v in rs.labels.items()}
    return variable, values


def _for_stats_package(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[col] = out[col].astype("Float64").astype(float)
        elif pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
            out[col] = out[col].astype(float)
        else:
            out[col] = out[col].astype(str).where(out[col].notna(), "")
    return out
