"""LimeSurvey response export (CSV, "question code" headings) of our fielded structure file.

LimeSurvey codes are letters and digits only, so our structure file
(:mod:`fieldsurvey.fielding.limesurvey`) names items by :func:`limesurvey_code` (``sc_pay1`` ->
``scpay1``) and Likert runs by ``<instrument, 15 chars>L<n>`` array questions. The response
export therefore has columns ``proqol5L1[pq01]``, ``structuralcondiL1[scpay1]`` and, for single
questions, the bare code (``wfrole``); undo it with
:func:`fieldsurvey.fielding.limesurvey_item_map`.

What LimeSurvey writes: every cell quoted, the system columns ``id``, ``submitdate``,
``lastpage``, ``startlanguage``, ``seed`` first; numbers typed into a numeric question as
``decimal(30,10)`` (``38.0000000000``); skipped answers empty. Our form is fielded anonymised
without date stamps or IP addresses, and then LimeSurvey writes ``1980-01-01 00:00:00`` as the
submit date of every completed response and no ``startdate``/``datestamp``/``ipaddr`` columns;
``include_personal=True`` writes the export of a survey with those settings on instead.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from fieldsurvey.fielding.limesurvey import limesurvey_code
from fieldsurvey.instrument import Instrument
from fieldsurvey.synthetic.platform_exports import (
    ExportItem,
    answer_code,
    delimited_text,
    start_export,
    write_text,
)

ANONYMISED_SUBMITDATE = "1980-01-01 00:00:00"
_TIME = "%Y-%m-%d %H:%M:%S"


def limesurvey_columns(items: list[ExportItem]) -> dict[str, str]:
    """Item id -> the response-export column LimeSurvey writes for it.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.synthetic.platform_exports import export_items
    >>> inst = resolve_instrument("structural-conditions")
    >>> cols = limesurvey_columns(export_items(pd.DataFrame(columns=inst.item_ids), [inst]))
    >>> cols["sc_pay1"]
    'structuralcondiL1[scpay1]'
    """
    columns: dict[str, str] = {}
    arrays: dict[str, int] = {}
    codes: dict[str, str] = {}
    for item in items:
        if not item.matrix:
            columns[item.item_id] = limesurvey_code(item.item_id)
            continue
        if item.block not in codes:
            arrays[item.section] = arrays.get(item.section, 0) + 1
            codes[item.block] = f"{limesurvey_code(item.section)[:15]}L{arrays[item.section]}"
        columns[item.item_id] = f"{codes[item.block]}[{limesurvey_code(item.item_id)}]"
    return columns


def _number(value: object, item: ExportItem) -> str:
    code = answer_code(value)
    if item.kind != "number" or code == "":
        return code
    try:
        return f"{float(code):.10f}"
    except ValueError:
        return code  # an open code (e.g. organisation "O01") stays as typed


def write_limesurvey_export(
    responses: pd.DataFrame,
    instruments: list[Instrument],
    path: Path,
    *,
    seed: int = 0,
    include_personal: bool = True,
) -> Path:
    """Write a LimeSurvey response export (CSV, question-code headings, answer codes).

    Parameters
    ----------
    responses, instruments, seed
        As :func:`fieldsurvey.synthetic.platform_exports.write_platform_export`.
    include_personal : bool
        True: the survey recorded date stamps and IP addresses (``startdate``, ``datestamp``,
        ``ipaddr``, ``refurl`` columns). False: anonymised, as our fielded form is.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> answers = generate_coalition(n_orgs=2, seed=1).responses
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "l.csv"
    >>> p = write_limesurvey_export(answers, [resolve_instrument("proqol5")], out,
    ...                             include_personal=False)
    >>> p.read_text().splitlines()[0][:70]
    '"id","submitdate","lastpage","startlanguage","seed","proqol5L1[pq01]",'
    """
    rng, items, answers, fake = start_export(responses, instruments, seed)
    columns = limesurvey_columns(items)
    system = ["id", "submitdate", "lastpage", "startlanguage", "seed"]
    if include_personal:
        system += ["startdate", "datestamp", "ipaddr", "refurl"]
    pages = len({i.section for i in items}) + 1  # the consent page, then one per instrument
    rows = [system + [columns[i.item_id] for i in items]]
    for r, answer_row in enumerate(answers.itertuples(index=False)):
        values = [
            str(r + 1),
            fake.end[r].strftime(_TIME) if include_personal else ANONYMISED_SUBMITDATE,
            str(pages),
            "en",
            str(int(rng.integers(100_000_000, 2_000_000_000))),
        ]
        if include_personal:
            values += [
                fake.start[r].strftime(_TIME),
                fake.end[r].strftime(_TIME),
                fake.ip[r],
                "",
            ]
        values += [_number(v, item) for v, item in zip(answer_row, items, strict=True)]
        rows.append(values)
    return write_text(path, delimited_text(rows, quoting=csv.QUOTE_ALL), "utf-8")
