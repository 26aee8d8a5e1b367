"""Which response, and which wave, each row of an export is.

Most exports hold one response per row, all of one wave (``--wave``, default the study's first).
REDCap projects can hold more per record:

* **Longitudinal projects** write one row per record and event (``redcap_event_name``). Each event
  is a wave: the row's wave is its event name, or the wave the mapping file's ``events:`` section
  gives it (``events: {baseline_arm_1: "2025"}``). Giving ``--wave`` for a file with several
  events is refused, since it would fold the events onto each other.
* **Repeating instruments** (``redcap_repeat_instrument``, ``redcap_repeat_instance``) write one
  row per instance: each instance is a response of its own, with the id
  ``<record>:<instrument>:<instance>`` (``<record>:<instance>`` for a repeating event).

Neither is then a "duplicate response id".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.export import PlatformExport

REDCAP_EVENT = "redcap_event_name"
REDCAP_REPEAT_FORM = "redcap_repeat_instrument"
REDCAP_REPEAT_INSTANCE = "redcap_repeat_instance"


@dataclass
class RowKeys:
    """The response id and wave of every row (NA where the row has none)."""

    ids: pd.Series
    waves: pd.Series
    #: True when rows are REDCap events or repeat instances (a row may then hold no study item).
    per_form_rows: bool = False
    notes: list[str] = field(default_factory=list)


def _text(values: pd.Series | None, index: pd.Index) -> pd.Series:
    if values is None:
        return pd.Series(pd.NA, index=index, dtype="string")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def row_keys(
    export: PlatformExport,
    *,
    wave: str | None,
    default_wave: str,
    study_waves: Sequence[str],
    events: Mapping[str, str],
    file: str,
) -> RowKeys:
    """Each row's response id and wave (see the module docs).

    Parameters
    ----------
    export : the export read
    wave : the wave given for the whole file (``--wave``), or None
    default_wave : the wave of a file without events when ``wave`` is None
    study_waves : the study's declared waves (empty: any label)
    events : event name -> wave, from the mapping file

    Raises
    ------
    IngestError
        ``--wave`` given for a file with several REDCap events, or events that are not (mapped
        to) one of the study's waves.
    """
    data, meta = export.data.reset_index(drop=True), export.meta.reset_index(drop=True)
    index = data.index
    id_col = export.response_id_column
    ids = _text(data[id_col] if id_col in data else None, index)
    notes: list[str] = []
    is_redcap = export.platform == "redcap"
    event = _text(meta.get(REDCAP_EVENT), index) if is_redcap else _text(None, index)
    form = _text(meta.get(REDCAP_REPEAT_FORM), index) if is_redcap else _text(None, index)
    instance = _text(meta.get(REDCAP_REPEAT_INSTANCE), index) if is_redcap else _text(None, index)
    repeated = instance.notna()
    if repeated.any():
        suffix = (form.fillna("") + ":").where(form.notna(), "") + instance.fillna("")
        ids = ids.where(~repeated | ids.isna(), ids + ":" + suffix)
        notes.append(f"{int(repeated.sum())} REDCap repeat instance row(s) stored as responses of "
                     "their own, id <record>:<instrument>:<instance>")
    waves = _waves(event, wave=wave, default_wave=default_wave, study_waves=study_waves,
                   events=events, file=file, notes=notes)
    return RowKeys(ids=ids, waves=waves, per_form_rows=bool(event.notna().any() or repeated.any()),
                   notes=notes)


def _waves(event: pd.Series, *, wave: str | None, default_wave: str, study_waves: Sequence[str],
           events: Mapping[str, str], file: str, notes: list[str]) -> pd.Series:
    index = event.index
    distinct = list(dict.fromkeys(event.dropna()))
    if not distinct or (wave is not None and len(distinct) == 1):
        return pd.Series(wave if wave is not None else default_wave, index=index, dtype="string")
    if wave is not None:
        raise IngestError(
            file, None, REDCAP_EVENT,
            f"this longitudinal REDCap export has {len(distinct)} events "
            f"({', '.join(distinct[:6])}{' ...' if len(distinct) > 6 else ''}); each event is "
            "stored as a wave, so leave out --wave (map events to the study's waves with the "
            "mapping file's events: section)",
        )
    waves = event.map(lambda e: events.get(e, e), na_action="ignore").astype("string")
    if study_waves:
        unknown = [e for e in distinct if events.get(e, e) not in study_waves]
        if unknown:
            raise IngestError(
                file, None, REDCAP_EVENT,
                f"REDCap event(s) {', '.join(unknown)} are not waves of the study "
                f"({', '.join(study_waves)}): map each event to a wave in a mapping file "
                "(--map) with 'events: {event_name: wave}', or add the waves to study.yaml",
            )
    shown = ", ".join(f"{e} -> {events.get(e, e)}" if e in events else e for e in distinct)
    notes.append(f"REDCap events stored as waves: {shown}")
    return waves
