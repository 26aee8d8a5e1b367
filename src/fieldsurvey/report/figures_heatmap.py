"""The coalition's heat map: organisations x scales, in the house style (grey-scale readable).

Each cell is shaded by how far the organisation's mean lies from the field mean, in field
standard deviations, turned so that darker is always worse for staff; the mean is written in
the cell so the chart reads in black and white. A withheld cell is left blank (white, no
number, no shade): it never looks like a value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.report.figures import HOUSE_STYLE, INK, Figure, _save
from fieldsurvey.report.timing import timed

__all__ = ["heat_map"]

#: Shading is clipped at this many field SDs from the field mean.
CLIP_SD = 1.5


@timed("figures")
def heat_map(
    data: pd.DataFrame,
    path: str | Path,
    *,
    row_order: list[str],
    column_order: list[str],
    caption: str,
    alt_text: str,
) -> Figure:
    """Draw organisations (rows) x scales (columns).

    Parameters
    ----------
    data : DataFrame
        Columns ``org``, ``scale``, ``value`` (the mean; missing = withheld), ``field`` and
        ``sd`` (the field's mean and SD of the scale) and ``better`` (True when higher is better).
    path : path
        Image file to write (.png or .svg).
    row_order, column_order : list of str
        Row and column labels in display order.
    caption, alt_text : str

    Examples
    --------
    >>> d = pd.DataFrame({"org": ["A", "B"], "scale": ["S", "S"], "value": [2.0, None],
    ...                   "field": [2.5, 2.5], "sd": [1.0, 1.0], "better": [True, True]})
    >>> heat_map(d, Path(tempfile.mkdtemp()) / "h.png", row_order=["A", "B"],  # doctest: +SKIP
    ...          column_order=["S"], caption="c", alt_text="a").path.suffix
    '.png'
    """
    import matplotlib
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure as MplFigure

    table = data.set_index(["org", "scale"])
    values = np.full((len(row_order), len(column_order)), np.nan)
    shade = np.full_like(values, np.nan)
    for i, org in enumerate(row_order):
        for j, scale in enumerate(column_order):
            if (org, scale) not in table.index:
                continue
            cell = table.loc[(org, scale)]
            value, centre, sd = cell["value"], cell["field"], cell["sd"]
            if pd.isna(value):
                continue
            values[i, j] = float(value)
            if not (pd.isna(centre) or pd.isna(sd) or sd == 0):
                z = (float(value) - float(centre)) / float(sd)
                shade[i, j] = np.clip(-z if cell["better"] else z, -CLIP_SD, CLIP_SD)
    with matplotlib.rc_context(HOUSE_STYLE):
        height = 1.2 + 0.28 * len(row_order)
        fig = MplFigure(figsize=(7.0, height), layout="constrained")
        ax = fig.subplots()
        cmap = matplotlib.colormaps["Greys"].with_extremes(bad="white")
        ax.imshow(np.ma.masked_invalid(shade), cmap=cmap, aspect="auto",
                  norm=Normalize(-CLIP_SD - 0.6, CLIP_SD + 0.6))
        for i in range(len(row_order)):
            for j in range(len(column_order)):
                if np.isnan(values[i, j]):
                    continue
                dark = not np.isnan(shade[i, j]) and shade[i, j] > 0.5
                # Inside its cell, so outside the layout: constrained layout would otherwise
                # measure every cell's text on every save (most of the chart's time).
                ax.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=6,
                        color="white" if dark else INK, in_layout=False)
        ax.set_xticks(range(len(column_order)), column_order, rotation=60, ha="right",
                      fontsize=7)
        ax.set_yticks(range(len(row_order)), row_order, fontsize=7)
        ax.set_xticks(np.arange(-0.5, len(column_order)), minor=True)
        ax.set_yticks(np.arange(-0.5, len(row_order)), minor=True)
        ax.grid(False)
        ax.grid(which="minor", color="#bbbbbb", linewidth=0.5)
        ax.tick_params(which="minor", length=0)
        for spine in ax.spines.values():
            spine.set_visible(True)
        _save(fig, Path(path))
    return Figure(Path(path), caption, alt_text)
