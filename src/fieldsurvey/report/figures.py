"""Report charts in one house style: grey-scale safe, reproducible PNGs, alt text on every figure.

Every chart function draws with matplotlib's Agg canvas (no pyplot, no global state), writes one
file and returns a :class:`Figure` record holding the path, the caption and the alt text. The
alt text is written from the data when the caller gives none, so no figure reaches a report
without a text description.

Series are told apart by lightness, hatch, marker and line style together, never by hue alone:
the categorical palette is chosen so its colours sit at well separated grey levels
(ITU-R 601 luma, the conversion pillow's ``"L"`` mode uses), and ordered bands use a light-to-dark
ramp. A report printed in black and white stays readable.

Files are byte-identical across runs: the PNG ``Software`` chunk and the PDF/SVG creation dates
are dropped, and the SVG id salt is fixed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure as _MplFigure
from matplotlib.patches import Patch

from fieldsurvey.report.timing import timed

__all__ = [
    "BAND_COLOURS",
    "HOUSE_STYLE",
    "SERIES_STYLES",
    "Figure",
    "SeriesStyle",
    "band_stack_bars",
    "funnel_plot",
    "mean_bars",
    "binned_distribution",
    "scale_distribution",
    "trend_lines",
]

# Two-sided normal quantiles for the funnel limits (95 % and 99.8 %).
Z_95 = 1.959963984540054
Z_998 = 3.090232306167813


@dataclass(frozen=True)
class Figure:
    """A chart file ready for a report: where it is, its caption and its alt text.

    The document builder accepts only these records, so a figure without a caption or alt
    text cannot enter a report.

    Parameters
    ----------
    path : Path
        The image file (PNG for reports).
    caption : str
        Visible caption under the figure.
    alt_text : str
        Text description for screen readers: what the chart shows and its main message.

    Examples
    --------
    >>> Figure(Path("burnout.png"), "Burnout scores", "Histogram of burnout scores ...").caption
    'Burnout scores'
    """

    path: Path
    caption: str
    alt_text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        for name in ("caption", "alt_text"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"figure {self.path.name}: {name} must be a non-empty text")
            if "\n\n" in value:
                raise ValueError(f"figure {self.path.name}: {name} must be a single paragraph")


@dataclass(frozen=True)
class SeriesStyle:
    """How one data series is drawn: fill/line colour, bar hatch, marker and line style."""

    colour: str
    hatch: str
    marker: str
    linestyle: Any


# Luma (0-255) of these colours: 50, 95, 141, 187, 220 - about 40 apart, so series stay
# distinct when printed in grey; hatches/markers/line styles differ as well.
SERIES_STYLES: tuple[SeriesStyle, ...] = (
    SeriesStyle("#1d3557", "", "o", "-"),
    SeriesStyle("#2a6f97", "///", "s", "--"),
    SeriesStyle("#6f9f7f", "...", "^", ":"),
    SeriesStyle("#e0b960", "xx", "D", "-."),
    SeriesStyle("#f2dca0", "\\\\\\", "v", (0, (5, 1, 1, 1, 1, 1))),
)

# Ordered bands (e.g. Low / Moderate / High) use a light-to-dark ramp so order reads in grey.
BAND_COLOURS: tuple[str, ...] = ("#e8eef4", "#a9c1d6", "#6a8fb3", "#3a5f86", "#14213d")
BAND_HATCHES: tuple[str, ...] = ("", "..", "//", "", "xx")

INK = "#1a1a1a"
GRID = "#d0d0d0"

HOUSE_STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: same glyphs on every machine
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.5,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linewidth": 0.6,
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "hatch.color": INK,
    "hatch.linewidth": 0.6,
    "lines.linewidth": 1.8,
    "lines.markersize": 6,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "svg.hashsalt": "fieldsurvey",
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
}

_DEFAULT_SIZE = (7.0, 3.8)


def _new_figure(size: tuple[float, float] = _DEFAULT_SIZE) -> tuple[_MplFigure, Any]:
    fig = _MplFigure(figsize=size, layout="constrained")
    ax = fig.subplots()
    return fig, ax


def _legend(fig: _MplFigure, ax: Any, ncols: int, handles: list[Any] | None = None) -> None:
    """Legend below the plot, outside the axes; constrained layout makes room for it."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    else:
        labels = [h.get_label() for h in handles]
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols)


def _save(fig: _MplFigure, path: Path) -> Path:
    """Write ``fig`` without any run-dependent metadata (timestamps, software version)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        metadata: dict[str, Any] = {"Software": None}
    elif suffix == ".pdf":
        metadata = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
    elif suffix == ".svg":
        metadata = {"Date": None, "Creator": None}
    else:
        raise ValueError(
            f"unsupported figure format {path.suffix!r} for {path}: use .png/.svg/.pdf"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=suffix[1:], metadata=metadata)
    if suffix == ".png":
        # The HTML report shows this sharp twin (reports/fig-alt.lua); PDF and DOCX the PNG.
        fig.savefig(path.with_suffix(".svg"), format="svg", metadata={"Date": None,
                                                                      "Creator": None})
    return path


def _require_columns(data: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(
            f"{what}: data is missing column(s) {missing}; it has {list(data.columns)}"
        )


def _fmt(value: float, decimals: int = 1) -> str:
    return f"{value:.{decimals}f}"


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'} {'lies' if k == 1 else 'lie'}"


def _series_order(values: pd.Series) -> list[Any]:
    # Order of first appearance: the caller's row order decides legend and bar order.
    return list(dict.fromkeys(values.tolist()))


def _check_series_count(n: int, what: str) -> None:
    if n > len(SERIES_STYLES):
        raise ValueError(
            f"{what}: {n} series but the house style distinguishes at most "
            f"{len(SERIES_STYLES)} in grey-scale; split the chart"
        )


# --------------------------------------------------------------------------------------------
# Scale distribution with band boundaries
# --------------------------------------------------------------------------------------------


def _band_triplets(bands: Sequence[Any]) -> list[tuple[str, float | None, float | None]]:
    out = []
    for band in bands:
        if isinstance(band, tuple):
            label, low, high = band
        else:  # fieldsurvey.instrument.model.Band or anything with label/min/max
            label, low, high = band.label, band.min, band.max
        out.append((str(label), low, high))
    return out


def _band_boundaries(bands: list[tuple[str, float | None, float | None]]) -> list[float]:
    """Cut points between consecutive bands, half-way between one's max and the next's min."""
    cuts = []
    for (_, _, high), (_, low_next, _) in zip(bands, bands[1:], strict=False):
        if high is not None and low_next is not None:
            cuts.append((high + low_next) / 2)
        elif high is not None:
            cuts.append(float(high))
        elif low_next is not None:
            cuts.append(float(low_next))
    return cuts


@timed("figures")
def scale_distribution(
    scores: Sequence[float] | pd.Series,
    path: str | Path,
    *,
    scale_label: str,
    bands: Sequence[Any] = (),
    caption: str | None = None,
    alt_text: str | None = None,
    bins: int | Sequence[float] | None = None,
    score_range: tuple[float, float] | None = None,
) -> Figure:
    """Histogram of one scale's scores with the band boundaries drawn as labelled lines.

    Parameters
    ----------
    scores : sequence of float
        Scale scores; missing values are dropped (and counted in the alt text).
    path : str or Path
        Output file (.png for reports).
    scale_label : str
        Name of the scale, e.g. ``"Burnout"``.
    bands : sequence of Band or (label, min, max)
        Interpretive bands in ascending order; boundaries are drawn half-way between one band's
        max and the next band's min (22.5 between Low <= 22 and Moderate >= 23).
    caption, alt_text : str, optional
        Defaults are written from the data.
    bins : int or sequence, optional
        Histogram bins; default one bin per integer score when scores are whole numbers.
    score_range : (float, float), optional
        Possible minimum and maximum of the scale (e.g. ``(10, 50)``), so the x axis shows the
        whole scale and every band; default the observed range.

    Returns
    -------
    Figure

    Examples
    --------
    >>> fig = scale_distribution([20, 25, 30], "burnout.png", scale_label="Burnout",
    ...                          bands=[("Low", None, 22), ("Moderate", 23, 41), ("High", 42, None)])
    >>> fig.alt_text.startswith("Histogram of Burnout scores for 3 respondents")
    True
    """
    series = pd.to_numeric(pd.Series(scores, dtype="float64"), errors="coerce")
    n_missing = int(series.isna().sum())
    values = series.dropna().to_numpy()
    if values.size == 0:
        raise ValueError(f"scale_distribution({scale_label!r}): no non-missing scores to plot")
    band_list = _band_triplets(bands)
    cuts = _band_boundaries(band_list)
    if bins is None:
        lo, hi = math.floor(values.min()), math.ceil(values.max())
        whole = np.allclose(values, np.round(values))
        bins = np.arange(lo - 0.5, hi + 1.5, 1.0) if whole and hi - lo <= 80 else 20

    with matplotlib.rc_context(HOUSE_STYLE):
        fig, ax = _new_figure()
        ax.hist(
            values,
            bins=bins,
            color=SERIES_STYLES[1].colour,
            edgecolor="white",
            linewidth=0.5,
        )
        ax.grid(axis="x", visible=False)
        ax.set_xlabel(f"{scale_label} score")
        ax.set_ylabel("Respondents")
        ax.yaxis.get_major_locator().set_params(integer=True)
        if score_range is not None:
            ax.set_xlim(score_range[0] - 0.5, score_range[1] + 0.5)
        # Headroom above the tallest bar for the band labels.
        ymax = ax.get_ylim()[1] * 1.15
        ax.set_ylim(0, ymax)
        for cut in cuts:
            ax.axvline(cut, color=INK, linestyle="--", linewidth=1.0)
        # Band labels centred in their span (clipped to the visible x range).
        x0, x1 = ax.get_xlim()
        edges = [x0, *cuts, x1]
        for (label, _, _), left, right in zip(band_list, edges, edges[1:], strict=False):
            if right > left:
                ax.text(
                    (left + right) / 2,
                    ymax * 0.97,
                    label,
                    ha="center",
                    va="top",
                    fontsize=8.5,
                    color=INK,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.8},
                )
        _save(fig, Path(path))

    if alt_text is None:
        parts = [
            f"Histogram of {scale_label} scores for {values.size} respondents, ranging from "
            f"{_fmt(values.min())} to {_fmt(values.max())} with median {_fmt(np.median(values))}."
        ]
        if band_list:
            counts = []
            for label, low, high in band_list:
                inside = np.ones(values.size, dtype=bool)
                if low is not None:
                    inside &= values >= low
                if high is not None:
                    inside &= values <= high
                k = int(inside.sum())
                counts.append(f"{label} {k} ({100 * k / values.size:.0f}%)")
            cut_text = ", ".join(_fmt(c) for c in cuts)
            parts.append(f"Dashed lines mark the band boundaries at {cut_text}.")
            parts.append("Respondents per band: " + "; ".join(counts) + ".")
        if n_missing:
            parts.append(f"{n_missing} missing scores are not shown.")
        alt_text = " ".join(parts)
    if caption is None:
        caption = f"Distribution of {scale_label} scores (n = {values.size})"
    return Figure(Path(path), caption, alt_text)


# --------------------------------------------------------------------------------------------
# Grouped horizontal bars of means with confidence intervals
# --------------------------------------------------------------------------------------------


@timed("figures")
def mean_bars(
    data: pd.DataFrame,
    path: str | Path,
    *,
    value_label: str,
    caption: str | None = None,
    alt_text: str | None = None,
    ci_level: str = "95%",
) -> Figure:
    """Grouped horizontal bars of means with confidence-interval whiskers.

    Parameters
    ----------
    data : DataFrame
        Tidy, one row per bar, columns ``group`` (row of bars, e.g. a scale), ``series``
        (bar within a group, e.g. ``"Lived-experience staff"``, ``"Other staff"``, ``"Field"``),
        ``mean``, ``ci_low``, ``ci_high``. Row order sets the drawing order.
    path : str or Path
        Output file.
    value_label : str
        Axis label of the means, e.g. ``"Mean score"``.
    caption, alt_text : str, optional
        Defaults are written from the data.
    ci_level : str
        Label of the interval in the alt text.

    Returns
    -------
    Figure

    Examples
    --------
    >>> df = pd.DataFrame({"group": ["Burnout"] * 2, "series": ["Us", "Field"],
    ...                    "mean": [24.0, 22.5], "ci_low": [22.0, 22.0], "ci_high": [26.0, 23.0]})
    >>> mean_bars(df, "means.png", value_label="Mean score").alt_text[:22]
    'Horizontal bar chart o'
    """
    _require_columns(data, ["group", "series", "mean", "ci_low", "ci_high"], "mean_bars")
    groups = _series_order(data["group"])
    series = _series_order(data["series"])
    _check_series_count(len(series), "mean_bars")
    height = 0.8 / len(series)

    with matplotlib.rc_context(HOUSE_STYLE):
        size = (7.0, max(2.4, 0.9 + 0.35 * len(groups) * len(series)))
        fig, ax = _new_figure(size)
        for s_index, name in enumerate(series):
            style = SERIES_STYLES[s_index]
            rows = data[data["series"] == name].set_index("group").reindex(groups)
            # Group 0 at the top: y counts down; series 0 is the top bar in each group.
            y = -np.arange(len(groups)) - s_index * height + (len(series) - 1) * height / 2
            mean = rows["mean"].to_numpy(dtype=float)
            err = np.vstack([mean - rows["ci_low"].to_numpy(dtype=float), rows["ci_high"] - mean])
            ax.barh(
                y,
                mean,
                height=height * 0.92,
                color=style.colour,
                hatch=style.hatch,
                edgecolor=INK,
                linewidth=0.6,
                label=str(name),
            )
            ax.errorbar(
                mean,
                y,
                xerr=err,
                fmt="none",
                ecolor=INK,
                elinewidth=1.0,
                capsize=2.5,
            )
        ax.set_yticks(-np.arange(len(groups)), [str(g) for g in groups])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(value_label)
        _legend(fig, ax, ncols=min(len(series), 3))
        _save(fig, Path(path))

    if alt_text is None:
        parts = [
            f"Horizontal bar chart of {value_label.lower()} with {ci_level} confidence intervals "
            f"for {', '.join(map(str, series))}."
        ]
        for group in groups:
            rows = data[data["group"] == group]
            items = [
                f"{r.series} {_fmt(r.mean)} ({_fmt(r.ci_low)} to {_fmt(r.ci_high)})"
                for r in rows.itertuples()
            ]
            parts.append(f"{group}: " + "; ".join(items) + ".")
        alt_text = " ".join(parts)
    if caption is None:
        caption = f"{value_label} by group with {ci_level} confidence intervals"
    return Figure(Path(path), caption, alt_text)


# --------------------------------------------------------------------------------------------
# Stacked band distribution bars
# --------------------------------------------------------------------------------------------


@timed("figures")
def band_stack_bars(
    data: pd.DataFrame,
    path: str | Path,
    *,
    band_order: Sequence[str] | None = None,
    caption: str | None = None,
    alt_text: str | None = None,
) -> Figure:
    """Horizontal 100 % stacked bars: share of respondents in each band, one bar per group.

    Parameters
    ----------
    data : DataFrame
        Tidy, columns ``group``, ``band``, ``share`` (proportion 0-1; each group's shares must
        sum to 1 within 0.01).
    path : str or Path
        Output file.
    band_order : sequence of str, optional
        Bands from lowest to highest; default is order of first appearance.
    caption, alt_text : str, optional
        Defaults are written from the data.

    Returns
    -------
    Figure

    Examples
    --------
    >>> df = pd.DataFrame({"group": ["Us"] * 3, "band": ["Low", "Moderate", "High"],
    ...                    "share": [0.2, 0.5, 0.3]})
    >>> band_stack_bars(df, "bands.png").alt_text.split(".")[0]
    'Stacked bar chart of the share of respondents in each band (Low, Moderate, High)'
    """
    _require_columns(data, ["group", "band", "share"], "band_stack_bars")
    groups = _series_order(data["group"])
    bands = list(band_order) if band_order is not None else _series_order(data["band"])
    if len(bands) > len(BAND_COLOURS):
        raise ValueError(f"band_stack_bars: at most {len(BAND_COLOURS)} bands, got {len(bands)}")
    table = data.pivot_table(index="group", columns="band", values="share", aggfunc="sum")
    table = table.reindex(index=groups, columns=bands).fillna(0.0)
    totals = table.sum(axis=1)
    bad = totals[(totals - 1).abs() > 0.01]
    if not bad.empty:
        raise ValueError(
            f"band_stack_bars: shares must sum to 1 per group; {bad.index[0]!r} sums to "
            f"{bad.iloc[0]:.3f}"
        )
    # Spread the ramp over the bands actually used so 3 bands get light, mid and dark.
    ramp = np.linspace(0, len(BAND_COLOURS) - 1, len(bands)).round().astype(int)

    with matplotlib.rc_context(HOUSE_STYLE):
        fig, ax = _new_figure((7.0, max(1.8, 0.9 + 0.45 * len(groups))))
        y = -np.arange(len(groups))
        left = np.zeros(len(groups))
        for b_index, band in enumerate(bands):
            share = table[band].to_numpy(dtype=float)
            colour = BAND_COLOURS[ramp[b_index]]
            ax.barh(
                y,
                share * 100,
                left=left * 100,
                height=0.6,
                color=colour,
                hatch=BAND_HATCHES[ramp[b_index]],
                edgecolor=INK,
                linewidth=0.6,
                label=str(band),
            )
            dark = ramp[b_index] >= 3
            for yi, start, width in zip(y, left, share, strict=True):
                if width >= 0.08:  # label only segments wide enough to hold the text
                    ax.text(
                        (start + width / 2) * 100,
                        yi,
                        f"{width * 100:.0f}%",
                        ha="center",
                        va="center",
                        fontsize=8.5,
                        color="white" if dark else INK,
                        bbox=None
                        if dark
                        else {"facecolor": "white", "edgecolor": "none", "pad": 0.8},
                    )
            left = left + share
        ax.set_yticks(y, [str(g) for g in groups])
        ax.set_xlim(0, 100)
        ax.set_xlabel("Share of respondents (%)")
        ax.grid(axis="y", visible=False)
        handles = [
            Patch(
                facecolor=BAND_COLOURS[ramp[i]],
                hatch=BAND_HATCHES[ramp[i]],
                edgecolor=INK,
                label=str(b),
            )
            for i, b in enumerate(bands)
        ]
        _legend(fig, ax, ncols=len(bands), handles=handles)
        _save(fig, Path(path))

    if alt_text is None:
        parts = [
            "Stacked bar chart of the share of respondents in each band "
            f"({', '.join(map(str, bands))})."
        ]
        for group in groups:
            items = [f"{b} {table.loc[group, b] * 100:.0f}%" for b in bands]
            parts.append(f"{group}: " + ", ".join(items) + ".")
        alt_text = " ".join(parts)
    if caption is None:
        caption = "Share of respondents by band"
    return Figure(Path(path), caption, alt_text)


# --------------------------------------------------------------------------------------------
# Funnel plot
# --------------------------------------------------------------------------------------------


@timed("figures")
def funnel_plot(
    data: pd.DataFrame,
    path: str | Path,
    *,
    centre: float,
    spread: float,
    value_label: str,
    highlight: str | None = None,
    caption: str | None = None,
    alt_text: str | None = None,
    n_range: tuple[float, float] | None = None,
    value_range: tuple[float, float] | None = None,
) -> Figure:
    """Funnel plot: each unit's value against its size, with 95 % and 99.8 % control limits.

    ``value_range`` (the scale's possible range) clips the vertical axis: at very small n the
    limits run past what any score can be, which only wastes the plot.

    Limits are ``centre +/- z * spread / sqrt(n)`` with z = 1.96 and 3.09 (normal
    approximation). For means pass the respondent-level SD as ``spread``; for proportions pass
    ``sqrt(p * (1 - p))`` with ``p`` the centre.

    Parameters
    ----------
    data : DataFrame
        Columns ``unit`` (organisation label), ``n`` (respondents), ``value``.
    path : str or Path
        Output file.
    centre : float
        Centre line (field mean or proportion).
    spread : float
        Respondent-level standard deviation that scales the limits.
    value_label : str
        Axis label of ``value``.
    highlight : str, optional
        A ``unit`` drawn with its own marker and labelled (the organisation the report is for).
    caption, alt_text : str, optional
        Defaults are written from the data.
    n_range : (float, float), optional
        Sizes the limit curves span; default from the units shown (use it when only one
        organisation's point is drawn, as in an organisation's own report).

    Returns
    -------
    Figure

    Examples
    --------
    >>> df = pd.DataFrame({"unit": ["A", "B"], "n": [12, 40], "value": [25.0, 22.0]})
    >>> f = funnel_plot(df, "funnel.png", centre=23, spread=6, value_label="Mean burnout")
    >>> "outside the 95% limits" in f.alt_text
    True
    """
    _require_columns(data, ["unit", "n", "value"], "funnel_plot")
    if spread <= 0:
        raise ValueError(f"funnel_plot: spread must be positive, got {spread}")
    n = data["n"].to_numpy(dtype=float)
    if (n <= 0).any():
        raise ValueError("funnel_plot: every unit needs n > 0")
    value = data["value"].to_numpy(dtype=float)
    se = spread / np.sqrt(n)
    out95 = np.abs(value - centre) > Z_95 * se
    out998 = np.abs(value - centre) > Z_998 * se
    lo_n, hi_n = n_range if n_range is not None else (n.min() * 0.8, n.max() * 1.1)
    grid_n = np.linspace(max(1.0, lo_n), hi_n, 200)

    with matplotlib.rc_context(HOUSE_STYLE):
        fig, ax = _new_figure((7.0, 4.2))
        ax.axhline(centre, color=INK, linewidth=1.2, label=f"Centre ({_fmt(centre)})")
        for z, style, label in ((Z_95, "--", "95% limits"), (Z_998, ":", "99.8% limits")):
            half = z * spread / np.sqrt(grid_n)
            ax.plot(grid_n, centre + half, color=INK, linestyle=style, linewidth=1.0, label=label)
            ax.plot(grid_n, centre - half, color=INK, linestyle=style, linewidth=1.0)
        is_highlight = (
            (data["unit"] == highlight).to_numpy() if highlight else np.zeros(len(n), bool)
        )
        if (~is_highlight).any():  # an organisation's own report may draw only its point
            ax.scatter(
                n[~is_highlight],
                value[~is_highlight],
                s=22,
                facecolor=SERIES_STYLES[2].colour,
                edgecolor=INK,
                linewidth=0.5,
                marker="o",
                label="Organisations",
                zorder=3,
            )
        if is_highlight.any():
            ax.scatter(
                n[is_highlight],
                value[is_highlight],
                s=70,
                facecolor=SERIES_STYLES[0].colour,
                edgecolor=INK,
                marker="D",
                label=str(highlight),
                zorder=4,
            )
            ax.annotate(
                str(highlight),
                (n[is_highlight][0], value[is_highlight][0]),
                xytext=(6, 6),
                textcoords="offset points",
                fontsize=8.5,
                fontweight="bold",
            )
        ax.set_xlabel("Respondents (n)")
        ax.set_ylabel(value_label)
        if value_range is not None:
            ax.set_ylim(*value_range)
        _legend(fig, ax, ncols=3)
        _save(fig, Path(path))

    if alt_text is None:
        parts = [
            f"Funnel plot of {value_label.lower()} for {len(n)} organisations against their "
            f"number of respondents ({int(n.min())} to {int(n.max())}), centre line at "
            f"{_fmt(centre)} with 95% and 99.8% limits narrowing as n grows.",
            f"{_count(int(out95.sum()), 'organisation')} outside the 95% limits and "
            f"{int(out998.sum())} outside the 99.8% limits.",
        ]
        if is_highlight.any():
            i = int(np.flatnonzero(is_highlight)[0])
            where = (
                "outside the 99.8% limits"
                if out998[i]
                else "outside the 95% limits"
                if out95[i]
                else "within the 95% limits"
            )
            parts.append(
                f"{highlight} (n = {int(n[i])}, value {_fmt(value[i])}) is marked and lies {where}."
            )
        alt_text = " ".join(parts)
    if caption is None:
        caption = f"Funnel plot of {value_label.lower()} with 95% and 99.8% limits"
    return Figure(Path(path), caption, alt_text)


# --------------------------------------------------------------------------------------------
# Trend over waves
# --------------------------------------------------------------------------------------------


@timed("figures")
def trend_lines(
    data: pd.DataFrame,
    path: str | Path,
    *,
    value_label: str,
    wave_label: str = "Survey wave",
    caption: str | None = None,
    alt_text: str | None = None,
    value_range: tuple[float, float] | None = None,
) -> Figure:
    """Lines of a value over survey waves, one per series, with optional interval ribbons.

    The value axis spans ``value_range`` (the scale's possible range) when given, and starts
    at zero otherwise, so that a small change is not magnified by a zoomed-in axis; the axis
    label says where it starts.

    Parameters
    ----------
    data : DataFrame
        Columns ``wave`` (label, in drawing order), ``series``, ``value`` and optionally
        ``ci_low`` and ``ci_high`` (drawn as a light ribbon).
    path : str or Path
        Output file.
    value_label : str
        Axis label of ``value``.
    wave_label : str
        Axis label of the waves.
    caption, alt_text : str, optional
        Defaults are written from the data.
    value_range : (float, float), optional
        Lowest and highest possible value (the scale's range); default zero to the data's top.

    Returns
    -------
    Figure

    Examples
    --------
    >>> df = pd.DataFrame({"wave": ["2024", "2025"], "series": ["Us", "Us"], "value": [24, 22]})
    >>> trend_lines(df, "trend.png", value_label="Mean burnout").alt_text.startswith("Line chart")
    True
    """
    _require_columns(data, ["wave", "series", "value"], "trend_lines")
    waves = _series_order(data["wave"])
    series = _series_order(data["series"])
    _check_series_count(len(series), "trend_lines")
    has_ci = {"ci_low", "ci_high"} <= set(data.columns)
    x = np.arange(len(waves))

    with matplotlib.rc_context(HOUSE_STYLE):
        fig, ax = _new_figure()
        for s_index, name in enumerate(series):
            style = SERIES_STYLES[s_index]
            rows = data[data["series"] == name].set_index("wave").reindex(waves)
            y = rows["value"].to_numpy(dtype=float)
            if has_ci:
                ax.fill_between(
                    x,
                    rows["ci_low"].to_numpy(dtype=float),
                    rows["ci_high"].to_numpy(dtype=float),
                    color=style.colour,
                    alpha=0.15,
                    linewidth=0,
                )
            ax.plot(
                x,
                y,
                color=style.colour if s_index < 3 else INK,
                linestyle=style.linestyle,
                marker=style.marker,
                markerfacecolor=style.colour,
                markeredgecolor=INK,
                label=str(name),
            )
        ax.set_xticks(x, [str(w) for w in waves])
        ax.set_xlabel(wave_label)
        if value_range is not None:
            ax.set_ylim(*value_range)
            ax.set_ylabel(f"{value_label}\n(axis: the scale's range, {value_range[0]:g} to "
                          f"{value_range[1]:g})")
        else:
            values = data["value"].to_numpy(dtype=float)
            low, top = min(0.0, float(np.nanmin(values))), float(np.nanmax(values))
            ax.set_ylim(low, top * 1.1 if top > 0 else 1.0)
            ax.set_ylabel(f"{value_label}\n(axis includes zero)")
        _legend(fig, ax, ncols=min(len(series), 3))
        _save(fig, Path(path))

    if alt_text is None:
        parts = [
            f"Line chart of {value_label.lower()} over {len(waves)} {wave_label.lower()}s "
            f"({waves[0]} to {waves[-1]}) for {', '.join(map(str, series))}."
        ]
        for name in series:
            rows = data[data["series"] == name].set_index("wave").reindex(waves)
            items = [
                f"{w} {_fmt(v)}" for w, v in zip(waves, rows["value"], strict=True) if pd.notna(v)
            ]
            parts.append(f"{name}: " + ", ".join(items) + ".")
        alt_text = " ".join(parts)
    if caption is None:
        caption = f"{value_label} by {wave_label.lower()}"
    return Figure(Path(path), caption, alt_text)


# --------------------------------------------------------------------------------------------
# Distribution from gated bin counts
# --------------------------------------------------------------------------------------------


@timed("figures")
def binned_distribution(
    data: pd.DataFrame,
    path: str | Path,
    *,
    scale_label: str,
    caption: str | None = None,
    alt_text: str | None = None,
) -> Figure:
    """Bar chart of respondents per score bin, drawn from counts that passed the disclosure gate.

    Unlike :func:`scale_distribution` it never sees individual scores: each bar is one gated
    count, and a withheld count (missing) is drawn as no bar at all, only the word "withheld"
    on the axis line, so no bar height can reveal a small cell or look like a value.

    Parameters
    ----------
    data : DataFrame
        Columns ``bin`` (label, in scale order) and ``n`` (count, missing when withheld).
    path : str or Path
        Output file.
    scale_label : str
        Name of the scale.
    caption, alt_text : str, optional
        Defaults are written from the data.

    Returns
    -------
    Figure

    Examples
    --------
    >>> df = pd.DataFrame({"bin": ["10 to 18", "18 to 26"], "n": [12, None]})
    >>> binned_distribution(df, "b.png", scale_label="Burnout").alt_text.split(".")[0]
    'Bar chart of the number of respondents in each Burnout score range'
    """
    _require_columns(data, ["bin", "n"], "binned_distribution")
    labels = [str(b) for b in data["bin"]]
    counts = pd.to_numeric(data["n"], errors="coerce").to_numpy(dtype=float)
    shown = ~np.isnan(counts)
    x = np.arange(len(labels))
    with matplotlib.rc_context(HOUSE_STYLE):
        fig, ax = _new_figure()
        ax.bar(
            x[shown],
            counts[shown],
            width=0.8,
            color=SERIES_STYLES[1].colour,
            edgecolor=INK,
            linewidth=0.6,
        )
        top = float(np.nanmax(counts)) if shown.any() else 1.0
        # No outline or stub bar for a withheld range: any shape with a height reads as a
        # value. Only a word on the axis line says that the range is not shown.
        for xi in x[~shown]:
            ax.text(xi, top * 0.02, "withheld", ha="center", va="bottom", fontsize=8,
                    fontstyle="italic", color=INK)
        ax.set_xticks(x, labels)
        ax.set_xlabel(f"{scale_label} score")
        ax.set_ylabel("Respondents")
        ax.grid(axis="x", visible=False)
        ax.set_ylim(0, top * 1.15)
        ax.yaxis.get_major_locator().set_params(integer=True)
        _save(fig, Path(path))
    if alt_text is None:
        items = [
            f"{label} {int(c)}" if ok else f"{label} withheld"
            for label, c, ok in zip(labels, counts, shown, strict=True)
        ]
        alt_text = (
            f"Bar chart of the number of respondents in each {scale_label} score range. "
            + "; ".join(items)
            + "."
        )
        if not shown.all():
            alt_text += " Withheld ranges hold too few respondents to show."
    if caption is None:
        caption = f"Distribution of {scale_label} scores"
    return Figure(Path(path), caption, alt_text)
