"""Write synthetic answers as the response exports survey platforms produce.

The writers take the answers of :func:`fieldsurvey.synthetic.generate_coalition` (columns
``response_id``, ``wave``, ``org``, then item ids; nullable integer codes, NA = skipped) and lay
them out exactly as each platform exports a survey that :mod:`fieldsurvey.fielding` fielded:
same field names (our item ids, or the platform's code for them), same question ids, same header
rows, metadata columns and missing-value conventions as the real exports in
``shared/fixtures/real``. Ingest can then be tested end to end: read the file back, map it to
items, score it, and compare with scoring the synthetic answers directly.

Metadata that identifies people (IP addresses, e-mails, names, GPS points) is filled with fake
but realistic values (documentation-only IP ranges, ``example.org`` addresses) so tests can
prove ingest drops it. Question texts are the item's short label or its id, never the wording of
a licensed instrument.

=============  ==========================================================================
platform       layouts
=============  ==========================================================================
qualtrics      ``default``/``numeric`` (3 header rows, codes), ``choice_text`` (labels),
               ``legacy`` (V1..V10, two header rows)
redcap         ``default``/``raw`` (field names, codes), ``labels`` (field labels, choice
               labels), ``survey`` (raw plus survey identifier and timestamps)
kobo           ``default`` (KPI: ``;``-separated, all quoted, ``_index`` last),
               ``legacy`` (KoboCAT: ``,``-separated, ``n/a`` for skipped)
odk            ``default`` (ODK Central: ``-``-joined group paths, ``KEY``)
limesurvey     ``default`` (question-code headings, all cells quoted)
surveymonkey   ``default`` (CSV, two header rows, answer text), ``api`` (v3 JSON pages
               plus the survey details file)
=============  ==========================================================================

Examples
--------
>>> import tempfile, pathlib
>>> from fieldsurvey.synthetic import generate_coalition
>>> from fieldsurvey.instrument import resolve_instrument
>>> insts = [resolve_instrument("workforce-context")]
>>> answers = generate_coalition(n_orgs=2, seed=1, instruments=("workforce-context",)).responses
>>> out = pathlib.Path(tempfile.mkdtemp()) / "export.csv"
>>> write_platform_export(answers, insts, "redcap", out).read_text().splitlines()[0][:25]
'record_id,wf_org,wf_role,'
"""

from __future__ import annotations

import csv
import io
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.fielding.plan import sanitize_name
from fieldsurvey.instrument import Instrument, ResponseScale

PLATFORM_LAYOUTS: dict[str, tuple[str, ...]] = {
    "qualtrics": ("default", "numeric", "choice_text", "legacy"),
    "redcap": ("default", "raw", "labels", "survey"),
    "kobo": ("default", "legacy"),
    "odk": ("default",),
    "limesurvey": ("default",),
    "surveymonkey": ("default", "api"),
}
# The descriptive stem our fielding gives every Likert matrix (see fielding.qualtrics_qsf).
MATRIX_STEM = "Please choose one answer for each statement."
# Fieldwork starts here; every timestamp is an offset from it (reproducible for a seed).
FIELDWORK_START = datetime(2026, 3, 2, 8, 30, 0)
_FIRST = ("Alex", "Sam", "Jordan", "Maria", "José", "Zoë", "Amara", "Chen", "Priya", "Tomás")
_LAST = ("Nguyen", "Okafor", "Müller", "García", "Smith", "Kowalski", "Haddad", "Brown")


@dataclass(frozen=True)
class ExportItem:
    """One item as the writers lay it out.

    Attributes
    ----------
    item_id : str
    section : str
        Sanitized instrument id: the form/group/block name on every platform.
    scale : ResponseScale
    label : str
        What the export shows as question text: the item's short label, else its id.
    kind : {"choice", "number", "text"}
        Choice items have answer labels; numbers and text are typed in.
    block : str
        Name of the question this item belongs to: a Likert matrix (shared by a run of items
        with the same response scale) or the item itself.
    matrix : bool
    row : int
        1-based position of the item in its matrix (1 for single questions).
    """

    item_id: str
    section: str
    scale: ResponseScale
    label: str
    kind: str
    block: str
    matrix: bool
    row: int

    @property
    def choices(self) -> dict[int, str]:
        """Answer code -> label (yes/no items without labels get 1 = Yes, 0 = No)."""
        if self.scale.labels:
            return {int(c): str(v) for c, v in self.scale.labels.items()}
        if self.scale.type == "yesno":
            return {1: "Yes", 0: "No"}
        return {}


def export_items(responses: pd.DataFrame, instruments: Sequence[Instrument]) -> list[ExportItem]:
    """The items of ``instruments`` in form order, grouped into questions as fielding does.

    A run of consecutive Likert items sharing one response scale is one matrix question (named
    ``<section>_<scale>``, numbered from the second run on); every other item is its own question.

    Raises
    ------
    ValueError
        When an item of the instruments has no column in ``responses`` (a platform always exports
        every question of the fielded form).

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> inst = resolve_instrument("workforce-context")
    >>> frame = pd.DataFrame(columns=list(inst.item_ids))
    >>> [i.kind for i in export_items(frame, [inst])][:3]
    ['number', 'choice', 'choice']
    """
    missing = [i for inst in instruments for i in inst.item_ids if i not in responses.columns]
    if missing:
        raise ValueError(
            f"responses have no column for item(s) {', '.join(missing[:5])}"
            + (" ..." if len(missing) > 5 else "")
            + ": a platform export holds every question of the fielded form"
        )
    return [item for inst in instruments for item in _instrument_items(inst)]


def _instrument_items(inst: Instrument) -> list[ExportItem]:
    section = sanitize_name(inst.id)
    # Runs of consecutive Likert items sharing a response scale: (scale name, item ids).
    runs: list[tuple[str, list[str]]] = []
    for item in inst.items:
        likert = inst.response_scales[item.scale].type == "likert"
        if likert and runs and runs[-1][0] == item.scale:
            runs[-1][1].append(item.id)
        else:
            runs.append((item.scale if likert else "", [item.id]))
    out: list[ExportItem] = []
    used: dict[str, int] = {}
    for scale, ids in runs:
        if not scale:
            rs = inst.response_scale_of(ids[0])
            out.append(_item(inst, ids[0], section, rs, ids[0], False, 1))
            continue
        base = f"{section}_{sanitize_name(scale)}"
        used[base] = used.get(base, 0) + 1
        name = base if used[base] == 1 else f"{base}_{used[base]}"
        for row, item_id in enumerate(ids, start=1):
            rs = inst.response_scale_of(item_id)
            out.append(_item(inst, item_id, section, rs, name, True, row))
    return out


def _item(
    inst: Instrument,
    item_id: str,
    section: str,
    rs: ResponseScale,
    block: str,
    matrix: bool,
    row: int,
) -> ExportItem:
    item = inst.item(item_id)
    if rs.type == "likert" or (rs.is_coded and (rs.labels or rs.type == "yesno")):
        kind = "choice"
    elif rs.type in ("numeric", "categorical"):
        kind = "number"
    else:
        kind = "text"
    return ExportItem(item_id, section, rs, item.label or item.id, kind, block, matrix, row)


def answer_code(value: Any) -> str:
    """An answer as the platform writes a code or number: ``4``, ``37.5``; blank when skipped.

    Examples
    --------
    >>> answer_code(4.0), answer_code(pd.NA), answer_code("O01")
    ('4', '', 'O01')
    """
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def answer_label(value: Any, item: ExportItem) -> str:
    """An answer as the platform writes a choice label (``Very Often``); numbers stay numbers."""
    code = answer_code(value)
    if code == "" or item.kind != "choice":
        return code
    return item.choices.get(int(float(code)), code)


def answer_table(
    responses: pd.DataFrame, items: list[ExportItem], preview: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The item columns to export, preview rows (if any) first, as they were fielded."""
    answers = responses[[i.item_id for i in items]].reset_index(drop=True)
    if preview is not None and len(preview):
        answers = pd.concat([preview.astype("object"), answers.astype("object")], ignore_index=True)
    return answers


def preview_answers(items: list[ExportItem], rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Answers a survey designer clicks through in preview mode: any valid code, no skips."""
    columns: dict[str, list[Any]] = {}
    for item in items:
        if item.kind == "choice":
            codes = sorted(item.choices) or list(range(1, 6))
            columns[item.item_id] = [int(rng.choice(codes)) for _ in range(rows)]
        elif item.kind == "number":
            low = 0 if item.scale.min is None else int(item.scale.min)
            high = low + 10 if item.scale.max is None else int(item.scale.max)
            columns[item.item_id] = [int(rng.integers(low, high + 1)) for _ in range(rows)]
        else:
            columns[item.item_id] = ["test" for _ in range(rows)]
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class FakeRespondents:
    """Per-row metadata a platform records: times and (fake) identifying details."""

    start: list[datetime]
    end: list[datetime]
    duration: list[int]
    ip: list[str]
    email: list[str]
    first_name: list[str]
    last_name: list[str]
    latitude: list[str]
    longitude: list[str]
    token: list[str]
    external_ref: list[str]


def fake_respondents(rows: int, rng: np.random.Generator) -> FakeRespondents:
    """Realistic but fake respondent metadata (RFC 5737 IPs, ``example.org`` e-mails).

    Examples
    --------
    >>> fake = fake_respondents(2, np.random.default_rng(0))
    >>> fake.ip[0].startswith(("192.0.2.", "198.51.100.", "203.0.113."))
    True
    """
    offsets = np.sort(rng.uniform(0, 14 * 24 * 3600, rows))
    duration = rng.integers(240, 1500, rows)
    start = [FIELDWORK_START + timedelta(seconds=int(s)) for s in offsets]
    end = [s + timedelta(seconds=int(d)) for s, d in zip(start, duration, strict=True)]
    nets = ("192.0.2", "198.51.100", "203.0.113")
    first = [str(rng.choice(_FIRST)) for _ in range(rows)]
    last = [str(rng.choice(_LAST)) for _ in range(rows)]
    return FakeRespondents(
        start=start,
        end=end,
        duration=[int(d) for d in duration],
        ip=[f"{nets[int(rng.integers(3))]}.{int(rng.integers(1, 255))}" for _ in range(rows)],
        email=[
            f"{f.lower()}.{la.lower()}{i}@example.org".encode("ascii", "ignore").decode()
            for i, (f, la) in enumerate(zip(first, last, strict=True))
        ],
        first_name=first,
        last_name=last,
        latitude=[f"{rng.uniform(-35, 55):.6f}" for _ in range(rows)],
        longitude=[f"{rng.uniform(-120, 150):.6f}" for _ in range(rows)],
        token=[random_token(rng, 15) for _ in range(rows)],
        external_ref=[f"STAFF-{i + 1:04d}" for i in range(rows)],
    )


def start_export(
    responses: pd.DataFrame,
    instruments: Sequence[Instrument],
    seed: int,
    preview_rows: int = 0,
) -> tuple[np.random.Generator, list[ExportItem], pd.DataFrame, FakeRespondents]:
    """What every writer starts from: its random stream, the exported items, the answer table
    (``preview_rows`` preview answers first) and the fake respondent metadata, drawn in that
    order so a seed gives the same export whichever writer runs."""
    rng = np.random.default_rng(seed)
    items = export_items(responses, instruments)
    preview = preview_answers(items, preview_rows, rng) if preview_rows else None
    answers = answer_table(responses, items, preview)
    return rng, items, answers, fake_respondents(len(answers), rng)


def random_token(rng: np.random.Generator, length: int) -> str:
    """Letters and digits, as platforms use in response ids and tokens."""
    alphabet = np.array(list(string.ascii_letters + string.digits))
    return "".join(rng.choice(alphabet, length))


def delimited_text(
    rows: list[list[Any]],
    *,
    delimiter: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
    line_terminator: str = "\n",
) -> str:
    """Rows as delimited text (the csv module's quoting rules, as the platforms use)."""
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, quoting=quoting, lineterminator=line_terminator
    )
    writer.writerows(rows)
    return buffer.getvalue()


def write_text(path: Path, text: str, encoding: str) -> Path:
    """Write ``text`` in ``encoding`` (``utf-16`` adds the byte-order mark, as platforms do)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def check_layout(platform: str, layout: str) -> str:
    """Return the layout name, or raise ``ValueError`` naming the valid ones."""
    if platform not in PLATFORM_LAYOUTS:
        raise ValueError(
            f"unknown platform {platform!r}: choose one of {', '.join(PLATFORM_LAYOUTS)}"
        )
    if layout not in PLATFORM_LAYOUTS[platform]:
        raise ValueError(
            f"{platform} has no layout {layout!r}: choose one of "
            f"{', '.join(PLATFORM_LAYOUTS[platform])}"
        )
    return layout


def write_platform_export(
    responses: pd.DataFrame,
    instruments: list[Instrument],
    platform: str,
    path: Path,
    *,
    layout: str = "default",
    seed: int = 0,
    include_personal: bool = True,
    preview_rows: int = 0,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Path:
    """Write synthetic answers as ``platform``'s response export at ``path``.

    Parameters
    ----------
    responses : DataFrame
        One row per response, one column per item id (codes; NA = skipped), e.g.
        ``generate_coalition(...).responses``. Other columns are ignored.
    instruments : list of Instrument
        The fielded instruments, in form order; every item needs a column in ``responses``.
    platform : {"qualtrics", "redcap", "kobo", "odk", "limesurvey", "surveymonkey"}
    path : Path
        File to write. SurveyMonkey's ``api`` layout also writes ``<stem>_details.json`` beside
        it (the survey definition the responses refer to).
    layout : str
        See :data:`PLATFORM_LAYOUTS` and the module docs.
    seed : int
        Seeds the fake metadata (times, ids, IPs, e-mails, preview answers).
    include_personal : bool
        Fill the identifying metadata columns (IP, e-mail, names, location) with fake values.
        False leaves them empty, as an anonymous survey exports them.
    preview_rows : int
        Extra test responses marked as previews (Qualtrics only: ``Status`` 1).
    encoding, delimiter : str, optional
        Override the platform's own (Qualtrics: ``"cp1252"`` with ``";"`` or ``"utf-16"``
        with ``"\\t"`` as regional Excel and Qualtrics' TSV export write them).

    Returns
    -------
    Path
        The written export.

    Raises
    ------
    ValueError
        Unknown platform or layout, an item without a column, or preview rows for a platform
        that has no preview marker.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> answers = generate_coalition(n_orgs=2, seed=1).responses
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "q.csv"
    >>> p = write_platform_export(answers, [resolve_instrument("proqol5")], "qualtrics", out)
    >>> p.read_text(encoding="utf-8-sig").splitlines()[2][:25]
    '"{""ImportId"":""startDat'
    """
    check_layout(platform, layout)
    if preview_rows and platform != "qualtrics":
        raise ValueError(
            f"{platform} exports have no preview marker; preview_rows is for qualtrics only"
        )
    common = dict(seed=seed, include_personal=include_personal)
    text_options = {
        k: v for k, v in (("encoding", encoding), ("delimiter", delimiter)) if v is not None
    }
    # Imported here: the per-platform modules import this module's helpers.
    if platform == "qualtrics":
        from fieldsurvey.synthetic.exports_qualtrics import write_qualtrics_export

        return write_qualtrics_export(
            responses,
            instruments,
            path,
            layout=layout,
            preview_rows=preview_rows,
            **common,
            **text_options,
        )
    if text_options:
        raise ValueError("encoding= and delimiter= are options of the qualtrics writer only")
    if platform == "redcap":
        from fieldsurvey.synthetic.exports_redcap import write_redcap_export

        return write_redcap_export(responses, instruments, path, layout=layout, **common)
    if platform in ("kobo", "odk"):
        from fieldsurvey.synthetic.exports_kobo import write_kobo_export, write_odk_export

        if platform == "odk":
            return write_odk_export(responses, instruments, path, **common)
        return write_kobo_export(responses, instruments, path, layout=layout, **common)
    if platform == "limesurvey":
        from fieldsurvey.synthetic.exports_limesurvey import write_limesurvey_export

        return write_limesurvey_export(responses, instruments, path, **common)
    from fieldsurvey.synthetic.exports_surveymonkey import (
        write_surveymonkey_api,
        write_surveymonkey_export,
    )

    if layout == "api":
        return write_surveymonkey_api(responses, instruments, path, **common)[0]
    return write_surveymonkey_export(responses, instruments, path, **common)
