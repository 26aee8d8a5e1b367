"""KoboToolbox and ODK Central CSV exports of a form fielded with our XLSForm.

Our XLSForm puts each instrument in a group named after its sanitized id, so every answer column
is ``<group><sep><item id>``; select_one answers are the choice names (our codes). Note fields
(consent, licence, recall) hold no data and are not exported.

* KoboToolbox ``default`` (KPI's current CSV, "XML values and headers", groups in headers):
  ``;``-separated with every cell quoted, ``/``-joined group paths, ``start``/``end``
  (KoboToolbox's form builder adds these metadata questions), skipped answers empty, then
  ``_id``, ``_uuid``, ``_submission_time``, ``_validation_status``, ``_notes``, ``_status``,
  ``_submitted_by``, ``__version__``, ``_tags`` and ``_index`` last.
* KoboToolbox ``legacy`` (KoboCAT, ``kobocat_tutorial_w_repeats.csv``): ``,``-separated,
  ``n/a`` for a skipped question, ``meta/instanceID``, ``_uuid``, ``_submission_time``,
  ``_tags``, ``_notes``, ``_validation_status`` (``{}``).
* ODK Central (``ruODK_build_Flora-Quadrat-0-2_1558575936.csv``): ``SubmissionDate`` first,
  ``-``-joined group paths, then ``meta-instanceID``, ``KEY``, ``SubmitterID``,
  ``SubmitterName``, ``AttachmentsPresent``, ``AttachmentsExpected``, ``Status``,
  ``ReviewState``, ``DeviceID``, ``Edits``, ``FormVersion``.
"""

from __future__ import annotations

import csv
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.instrument import Instrument
from fieldsurvey.synthetic.platform_exports import (
    answer_code,
    check_layout,
    delimited_text,
    start_export,
    write_text,
)

KPI_SYSTEM = (
    "_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
    "_submitted_by", "__version__", "_tags", "_index",
)  # fmt: skip
KOBOCAT_SYSTEM = ("meta/instanceID", "_uuid", "_submission_time", "_tags", "_notes",
                  "_validation_status")  # fmt: skip
ODK_SYSTEM = (
    "meta-instanceID", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
    "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion",
)  # fmt: skip
FORM_VERSION = "vQ9mXk3sZ7bT2rLwHc8pAe"


def _uuids(rng: np.random.Generator, rows: int) -> list[str]:
    return [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(rows)]


def _local_iso(moment: datetime) -> str:
    """Device time as Enketo/Collect write it: milliseconds and the UTC offset (+03:00)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+03:00"


def write_kobo_export(
    responses: pd.DataFrame,
    instruments: list[Instrument],
    path: Path,
    *,
    layout: str = "default",
    seed: int = 0,
    include_personal: bool = True,
) -> Path:
    """Write a KoboToolbox CSV export (``default`` = KPI, ``legacy`` = KoboCAT).

    Parameters
    ----------
    responses, instruments, seed, include_personal
        As :func:`fieldsurvey.synthetic.platform_exports.write_platform_export`;
        ``include_personal`` fills ``_submitted_by`` with an enumerator's user name.
    layout : {"default", "legacy"}

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> answers = generate_coalition(n_orgs=2, seed=1).responses
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "k.csv"
    >>> p = write_kobo_export(answers, [resolve_instrument("proqol5")], out)
    >>> p.read_text().splitlines()[0][:35]
    '"start";"end";"proqol5/pq01";"proqo'
    """
    check_layout("kobo", layout)
    rng, items, answers, fake = start_export(responses, instruments, seed)
    ids = _uuids(rng, len(answers))
    fields = [f"{i.section}/{i.item_id}" for i in items]
    skipped = "n/a" if layout == "legacy" else ""
    values = [[answer_code(v) or skipped for v in row] for row in answers.itertuples(index=False)]
    # The server receives a submission a few minutes after the form is finished (UTC).
    received = [
        e - timedelta(hours=3) + timedelta(seconds=int(rng.integers(5, 600))) for e in fake.end
    ]
    if layout == "legacy":
        rows = [fields + list(KOBOCAT_SYSTEM)]
        for r, answer_row in enumerate(values):
            system = [
                f"uuid:{ids[r]}",
                ids[r],
                received[r].strftime("%Y-%m-%dT%H:%M:%S"),
                "",
                "",
                "{}",
            ]
            rows.append(answer_row + system)
        return write_text(path, delimited_text(rows), "utf-8")
    rows = [["start", "end", *fields, *KPI_SYSTEM]]
    first_id = int(rng.integers(100_000_000, 400_000_000))
    for r, answer_row in enumerate(values):
        system = [
            str(first_id + r),
            ids[r],
            received[r].strftime("%Y-%m-%dT%H:%M:%S"),
            "",
            "",
            "submitted_via_web",
            "enumerator_1" if include_personal else "",
            FORM_VERSION,
            "",
            str(r + 1),
        ]
        rows.append([_local_iso(fake.start[r]), _local_iso(fake.end[r]), *answer_row, *system])
    return write_text(path, delimited_text(rows, delimiter=";", quoting=csv.QUOTE_ALL), "utf-8")


def write_odk_export(
    responses: pd.DataFrame,
    instruments: list[Instrument],
    path: Path,
    *,
    seed: int = 0,
    include_personal: bool = True,
) -> Path:
    """Write an ODK Central CSV export (main table; our forms have no repeats).

    ``include_personal`` fills ``SubmitterName`` and ``DeviceID`` (fake values).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> answers = generate_coalition(n_orgs=2, seed=1).responses
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "o.csv"
    >>> p = write_odk_export(answers, [resolve_instrument("proqol5")], out)
    >>> p.read_text().splitlines()[0][:36]
    'SubmissionDate,proqol5-pq01,proqol5-'
    """
    rng, items, answers, fake = start_export(responses, instruments, seed)
    ids = _uuids(rng, len(answers))
    rows = [["SubmissionDate", *(f"{i.section}-{i.item_id}" for i in items), *ODK_SYSTEM]]
    for r, answer_row in enumerate(answers.itertuples(index=False)):
        received = fake.end[r] - timedelta(hours=3) + timedelta(seconds=int(rng.integers(5, 900)))
        device = f"collect:{fake.token[r]}" if include_personal else ""
        system = [
            f"uuid:{ids[r]}",
            f"uuid:{ids[r]}",
            str(200 + r % 4),
            f"{fake.first_name[r]} {fake.last_name[r]}" if include_personal else "",
            "0",
            "0",
            "",
            "",
            device,
            "0",
            "1",
        ]
        stamp = received.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(rng.integers(1000)):03d}Z"
        rows.append([stamp, *(answer_code(v) for v in answer_row), *system])
    return write_text(path, delimited_text(rows), "utf-8")
