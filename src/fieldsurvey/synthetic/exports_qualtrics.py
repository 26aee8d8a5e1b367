"""Qualtrics response exports (CSV/TSV) of a survey fielded with our .qsf.

Current layout (2017 onwards; ``qualtRics_sample.csv``): three header rows: export tags, question
texts, and the ImportId row (``{"ImportId":"QID12_1"}``), then one row per response. The
seventeen system columns come first. Our QSF sets ``DataExportTag`` (and a matrix's
``ChoiceDataExportTags``) to the item id, so the export tags are item ids; question ids are
numbered as the QSF numbers them (consent, then per instrument its notice and its questions), so
a matrix statement's ImportId is ``QID<n>_<row>`` and a number typed into a text box is
``QID<n>_TEXT``. ``numeric`` writes the recode values (our codes), ``choice_text`` the answer
labels (and "Survey Preview" / "True" in the system columns, as Qualtrics does).

Legacy layout (``qualtRics_sample_legacy.csv``): two header rows, ``V1..V10`` then their names
(``ResponseID``, ``ResponseSet``, ``Name``, ...), the location columns last, and a trailing
delimiter on every line.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from fieldsurvey.instrument import Instrument
from fieldsurvey.synthetic.platform_exports import (
    MATRIX_STEM,
    ExportItem,
    answer_code,
    answer_label,
    check_layout,
    delimited_text,
    start_export,
    write_text,
)

# (export tag, question-text row, ImportId) of the system columns, in Qualtrics' order.
SYSTEM_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("StartDate", "Start Date", "startDate"),
    ("EndDate", "End Date", "endDate"),
    ("Status", "Response Type", "status"),
    ("IPAddress", "IP Address", "ipAddress"),
    ("Progress", "Progress", "progress"),
    ("Duration (in seconds)", "Duration (in seconds)", "duration"),
    ("Finished", "Finished", "finished"),
    ("RecordedDate", "Recorded Date", "recordedDate"),
    ("ResponseId", "Response ID", "_recordId"),
    ("RecipientLastName", "Recipient Last Name", "recipientLastName"),
    ("RecipientFirstName", "Recipient First Name", "recipientFirstName"),
    ("RecipientEmail", "Recipient Email", "recipientEmail"),
    ("ExternalReference", "External Data Reference", "externalDataReference"),
    ("LocationLatitude", "Location Latitude", "locationLatitude"),
    ("LocationLongitude", "Location Longitude", "locationLongitude"),
    ("DistributionChannel", "Distribution Channel", "distributionChannel"),
    ("UserLanguage", "User Language", "userLanguage"),
)
LEGACY_SYSTEM = (
    "ResponseID", "ResponseSet", "Name", "ExternalDataReference", "EmailAddress", "IPAddress",
    "Status", "StartDate", "EndDate", "Finished",
)  # fmt: skip
LEGACY_LOCATION = ("LocationLatitude", "LocationLongitude", "LocationAccuracy")
_TIME = "%Y-%m-%d %H:%M:%S"


def qualtrics_import_ids(items: list[ExportItem]) -> dict[str, str]:
    """Item id -> the ImportId Qualtrics exports for it from our QSF.

    Question ids follow the QSF: ``QID1`` is the consent text; each instrument then has its
    notice and one question per matrix or single item.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.synthetic.platform_exports import export_items
    >>> inst = resolve_instrument("workforce-context")
    >>> ids = qualtrics_import_ids(export_items(pd.DataFrame(columns=inst.item_ids), [inst]))
    >>> ids["wf_org"], ids["wf_role"]
    ('QID3_TEXT', 'QID4')
    """
    ids: dict[str, str] = {}
    number = 1  # QID1: consent
    section, block = "", ""
    for item in items:
        if item.section != section:
            section, block = item.section, ""
            number += 1  # the instrument's notice
        if item.block != block or not item.matrix:
            block = item.block
            number += 1
        if item.matrix:
            ids[item.item_id] = f"QID{number}_{item.row}"
        elif item.kind == "choice":
            ids[item.item_id] = f"QID{number}"
        else:
            ids[item.item_id] = f"QID{number}_TEXT"
    return ids


def write_qualtrics_export(
    responses: pd.DataFrame,
    instruments: list[Instrument],
    path: Path,
    *,
    layout: str = "default",
    seed: int = 0,
    include_personal: bool = True,
    preview_rows: int = 0,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
) -> Path:
    """Write a Qualtrics response export (see the module docs for the layouts).

    Parameters
    ----------
    responses, instruments, seed, include_personal, preview_rows
        As :func:`fieldsurvey.synthetic.platform_exports.write_platform_export`.
    layout : {"default", "numeric", "choice_text", "legacy"}
        ``default`` is ``numeric``.
    encoding : str
        ``utf-8-sig`` (Qualtrics' CSV, with a byte-order mark), ``cp1252`` or ``utf-16``.
    delimiter : str
        ``,`` for CSV, ``;`` (regional Excel) or ``\\t`` (Qualtrics' TSV export).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> answers = generate_coalition(n_orgs=2, seed=1).responses
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "legacy.csv"
    >>> p = write_qualtrics_export(answers, [resolve_instrument("proqol5")], out, layout="legacy")
    >>> p.read_text(encoding="utf-8-sig").splitlines()[0][:30]
    'V1,V2,V3,V4,V5,V6,V7,V8,V9,V10'
    """
    check_layout("qualtrics", layout)
    rng, items, answers, fake = start_export(responses, instruments, seed, preview_rows)
    is_preview = [True] * preview_rows + [False] * len(responses)
    response_ids = [f"R_{t}" for t in fake.token]
    text = "choice_text" if layout == "choice_text" else "numeric"
    values = [
        [
            answer_label(v, item) if text == "choice_text" else answer_code(v)
            for v, item in zip(row, items, strict=True)
        ]
        for row in answers.itertuples(index=False)
    ]

    def personal(values_: list[str], i: int) -> str:
        return values_[i] if include_personal and not is_preview[i] else ""

    if layout == "legacy":
        rows = _legacy_rows(items, values, fake, response_ids, is_preview, personal)
    else:
        import_ids = qualtrics_import_ids(items)
        header = [c[0] for c in SYSTEM_COLUMNS] + [i.item_id for i in items]
        texts = [c[1] for c in SYSTEM_COLUMNS] + [_question_text(i, " - ") for i in items]
        ids = [c[2] for c in SYSTEM_COLUMNS] + [import_ids[i.item_id] for i in items]
        rows = [header, texts, [json.dumps({"ImportId": i}, separators=(",", ":")) for i in ids]]
        for i, answer_row in enumerate(values):
            preview_row = is_preview[i]
            if text == "choice_text":
                status = "Survey Preview" if preview_row else "IP Address"
                finished = "True"
            else:
                status, finished = ("1" if preview_row else "0"), "1"
            channel = "preview" if preview_row else ("email" if include_personal else "anonymous")
            system = [
                fake.start[i].strftime(_TIME),
                fake.end[i].strftime(_TIME),
                status,
                personal(fake.ip, i),
                "100",
                str(fake.duration[i]),
                finished,
                fake.end[i].strftime(_TIME),
                response_ids[i],
                personal(fake.last_name, i),
                personal(fake.first_name, i),
                personal(fake.email, i),
                personal(fake.external_ref, i),
                personal(fake.latitude, i),
                personal(fake.longitude, i),
                channel,
                "EN",
            ]
            rows.append(system + answer_row)
    # Qualtrics writes Windows line ends.
    body = delimited_text(
        rows, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, line_terminator="\r\n"
    )
    return write_text(path, body, encoding)


def _question_text(item: ExportItem, joiner: str) -> str:
    return f"{MATRIX_STEM}{joiner}{item.label}" if item.matrix else item.label


def _legacy_rows(items, values, fake, response_ids, is_preview, personal) -> list[list[str]]:
    header = [f"V{k}" for k in range(1, 11)] + [i.item_id for i in items] + [*LEGACY_LOCATION, ""]
    names = [*LEGACY_SYSTEM] + [_question_text(i, "-") for i in items] + [*LEGACY_LOCATION, ""]
    rows = [header, names]
    for i, answer_row in enumerate(values):
        name = (
            f"{fake.last_name[i]}, {fake.first_name[i]}" if personal(fake.email, i) else "Anonymous"
        )
        system = [
            response_ids[i],
            "Default Response Set",
            name,
            personal(fake.external_ref, i),
            personal(fake.email, i),
            personal(fake.ip, i),
            "1" if is_preview[i] else "0",
            fake.start[i].strftime(_TIME),
            fake.end[i].strftime(_TIME),
            "1",
        ]
        location = [personal(fake.latitude, i), personal(fake.longitude, i), "-1", ""]
        rows.append(system + answer_row + location)
    return rows
