"""Codebook: what a data manager needs beside the data, as HTML (self-contained) or PDF (Typst).

For every instrument: citation, licence, recall period; every item (id, wording where available
else our descriptive label, response scale, codes and labels, missing codes, reverse key,
sensitive and required flags); every scale (items, scoring method, missing-data rule, bands with
their rounding, norms). Licensed wording appears only when the user attached it, so a codebook
can always be made, with or without wording.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from fieldsurvey.fielding.notices import FieldingError, licence_notice
from fieldsurvey.fielding.typst_doc import compile_pdf, tstr
from fieldsurvey.instrument import Instrument, Scale, resolve_instrument

METHOD_TEXT = {
    "sum": "sum of answered items",
    "mean": "mean of answered items",
    "prorated_sum": "prorated sum (mean of answered items x number of items)",
    "mean_0_100": "mean of answered items rescaled to 0-100",
}


def codebook_items(instruments: list[Instrument]) -> pd.DataFrame:
    """One row per item: the codebook's item table as a DataFrame.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> df = codebook_items([resolve_instrument("proqol5")])
    >>> df.loc[0, ["instrument", "item", "codes"]].tolist()
    ['proqol5', 'pq01', '1 = Never; 2 = Rarely; 3 = Sometimes; 4 = Often; 5 = Very Often']
    """
    rows = []
    for inst in _with_wording(instruments):
        for it in inst.items:
            rs = inst.response_scales[it.scale]
            bounds = ""
            if rs.min is not None or rs.max is not None:
                bounds = f"{_num(rs.min)}-{_num(rs.max)}"
            rows.append(
                {
                    "instrument": inst.id,
                    "item": it.id,
                    "wording": _wording(it.text) or it.label or "(wording not included)",
                    "wording_source": "wording" if it.text else "label",
                    "response_scale": it.scale,
                    "type": rs.type,
                    "codes": "; ".join(f"{c} = {lab}" for c, lab in rs.labels.items()),
                    "range": bounds,
                    "missing_codes": ", ".join(str(c) for c in rs.missing_codes),
                    "reverse": it.reverse,
                    "sensitive": it.sensitive,
                    "required": it.required,
                    "scales": ", ".join(sc.id for sc in inst.scales if it.id in sc.items),
                }
            )
    return pd.DataFrame(rows)


def codebook_scales(instruments: list[Instrument]) -> pd.DataFrame:
    """One row per scale: items, method, missing-data rule, bands, rounding, norms."""
    rows = []
    for inst in instruments:
        for sc in inst.scales:
            lo, hi = inst.score_range(sc.id)
            rows.append(
                {
                    "instrument": inst.id,
                    "scale": sc.id,
                    "label": sc.label,
                    "items": ", ".join(sc.items),
                    "reverse_keyed": ", ".join(i for i in sc.items if inst.item(i).reverse),
                    "method": METHOD_TEXT.get(sc.method, sc.method),
                    "missing_rule": (
                        f"scored when at least {sc.min_answered} of {sc.k} items answered"
                    ),
                    "score_range": f"{lo:g}-{hi:g}",
                    "higher_is": sc.higher_is,
                    "bands": _bands(sc),
                    "band_rounding": f"{sc.band_rounding} ({sc.band_decimals} decimals)"
                    if sc.bands
                    else "",
                    "norms": _norms(sc),
                }
            )
    # Instruments without scales (workforce context, the organisation profile) have none.
    return pd.DataFrame(rows, columns=_SCALE_COLUMNS)


_SCALE_COLUMNS = ["instrument", "scale", "label", "items", "reverse_keyed", "method",
                  "missing_rule", "score_range", "higher_is", "bands", "band_rounding", "norms"]


def write_codebook(instruments: list[Instrument], out: Path, *, title: str | None = None) -> Path:
    """Write the codebook; the suffix of ``out`` chooses ``.html`` or ``.pdf``.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "codebook.html"
    >>> write_codebook([resolve_instrument("proqol5")], out).suffix
    '.html'
    """
    instruments = _with_wording(instruments)
    title = title or "Codebook: " + ", ".join(inst.id for inst in instruments)
    suffix = out.suffix.lower()
    if suffix in (".html", ".htm"):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(codebook_html(instruments, title), encoding="utf-8")
        return out
    if suffix == ".pdf":
        return compile_pdf(codebook_typst(instruments, title), out)
    raise FieldingError(f"{out.name}: a codebook is written as .html or .pdf")


def codebook_html(instruments: list[Instrument], title: str) -> str:
    """The codebook as one self-contained HTML page (no external CSS or scripts)."""
    items = codebook_items(instruments)
    scales = codebook_scales(instruments)
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:80em}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        "th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}"
        "th{background:#eee}.notice{font-size:.85em;color:#333}</style>",
        f"</head><body><h1>{esc(title)}</h1>",
    ]
    for inst in instruments:
        lic = inst.licence
        out += [
            f'<section id="{esc(inst.id)}"><h2>{esc(inst.title)} ({esc(inst.id)}, version '
            f"{esc(inst.version)})</h2>",
            f"<p>{esc(' '.join(inst.citation.split()))}</p>",
            f"<p>Recall period: {esc(inst.recall or 'none stated')}</p>",
            "<h3>Licence</h3>",
            f"<p>Holder: {esc(lic.holder)}. Terms: {esc(' '.join(lic.terms.split()))}</p>",
            f'<p class="notice">{esc(licence_notice(inst))}</p>',
            f"<p>Item wording: {'included' if lic.wording_included else 'not included'}"
            f"{'; attached by the user' if not lic.wording_included and inst.has_wording else ''}"
            ".</p>",
            "<h3>Items</h3>",
            _html_table(items[items.instrument == inst.id].drop(columns="instrument")),
            "<h3>Scales</h3>",
            _html_table(scales[scales.instrument == inst.id].drop(columns="instrument")),
            "</section>",
        ]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def codebook_typst(instruments: list[Instrument], title: str) -> str:
    """The codebook as Typst source (landscape A4)."""
    items = codebook_items(instruments)
    scales = codebook_scales(instruments)
    lines = [
        '#set page(paper: "a4", flipped: true, margin: 1.5cm, numbering: "1")',
        "#set text(size: 8pt)",
        f"#heading(level: 1, {tstr(title)})",
    ]
    item_cols = [
        "item",
        "wording",
        "response_scale",
        "codes",
        "missing_codes",
        "reverse",
        "sensitive",
        "required",
        "scales",
    ]
    scale_cols = [
        "scale",
        "items",
        "reverse_keyed",
        "method",
        "missing_rule",
        "score_range",
        "bands",
        "band_rounding",
        "norms",
    ]
    for inst in instruments:
        lic = inst.licence
        lines += [
            f"#heading(level: 2, {tstr(f'{inst.title} ({inst.id}, version {inst.version})')})",
            f"#par({tstr(inst.citation)})",
            f"#par({tstr('Recall period: ' + (inst.recall or 'none stated'))})",
            f"#par({tstr(f'Licence holder: {lic.holder}. Terms: {lic.terms}')})",
            f"#par(text(size: 7pt, {tstr(licence_notice(inst))}))",
            '#heading(level: 3, "Items")',
            _typst_table(
                items[items.instrument == inst.id],
                item_cols,
                "(auto, 3fr, auto, 2fr, auto, auto, auto, auto, auto)",
            ),
            '#heading(level: 3, "Scales")',
            _typst_table(
                scales[scales.instrument == inst.id],
                scale_cols,
                "(auto, 2fr, 1fr, 1.5fr, 1.5fr, auto, 1.5fr, auto, 1fr)",
            ),
        ]
    return "\n\n".join(lines) + "\n"


def _with_wording(instruments: list[Instrument]) -> list[Instrument]:
    # Wording the user attached is shown; without it the codebook lists our item labels.
    return [resolve_instrument(inst, with_wording=True) for inst in instruments]


def _wording(text: dict[str, str] | None) -> str:
    if not text:
        return ""
    return " | ".join(f"[{lang}] {t}" if len(text) > 1 else t for lang, t in text.items())


def _bands(sc: Scale) -> str:
    parts = []
    for b in sc.bands:
        if b.min is not None and b.max is not None:
            parts.append(f"{b.label}: {b.min:g}-{b.max:g}")
        elif b.max is not None:
            parts.append(f"{b.label}: {b.max:g} or less")
        elif b.min is not None:
            parts.append(f"{b.label}: {b.min:g} or more")
        else:
            parts.append(f"{b.label}: any score")
    return "; ".join(parts)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _norms(sc: Scale) -> str:
    if sc.norms is None:
        return ""
    n = sc.norms
    src = f" ({n.source})" if n.source else ""
    return f"mean {n.mean:g}, SD {n.sd:g}, reported as {n.metric}-scores{src}"


def _display(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


def _html_table(df: pd.DataFrame) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(_display(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _typst_table(df: pd.DataFrame, cols: list[str], widths: str) -> str:
    head = ", ".join(f"strong({tstr(c)})" for c in cols)
    cells = ", ".join(tstr(_display(v)) for row in df[cols].itertuples(index=False) for v in row)
    return f"#table(columns: {widths}, inset: 3pt, table.header({head}), {cells})"
