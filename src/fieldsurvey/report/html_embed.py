"""Self-contained HTML reports without pandoc's ``--embed-resources`` pass.

``--embed-resources`` makes pandoc parse its whole HTML output again to replace every link to a
local file by the file's contents, which took a fifth of the time pandoc spent on a report. A
report's HTML links only two kinds of file: its figures, which ``reports/fig-alt.lua`` embeds
as data URIs while writing (in the form ``--embed-resources`` gives them), and the report
stylesheet, embedded here by replacing the head's style element with the one pandoc writes
with ``--embed-resources --css`` (made once per process from an empty document). A document
whose output has another shape, or still links a local file, is written by pandoc with
``--embed-resources`` as before.

The result is the page pandoc writes with ``--embed-resources`` (the same bytes for the
reports of ``bench/report_bench.py``; pandoc's second pass also writes ``'`` as ``&#39;``,
which is done here too).
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

__all__ = ["embed_stylesheet", "links_local_files"]

# Elements whose content is not HTML text.
_RAW_TEXT = re.compile(r"<(style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
# An element that loads a file when the page is shown, by an address that is not a data URI.
_LOCAL_LINK = re.compile(r"<(?:img|script|link|source|video|audio|iframe|embed)\b[^>]*?"
                         r"\b(?:src|href)=\"(?!data:|#)[^\"]*\"", re.IGNORECASE)


@cache
def _head_styles(pandoc: str, stylesheet: str | None) -> tuple[str, str]:
    """The head's style elements of an empty document, written plain and with the stylesheet
    embedded: ``(plain, embedded)``."""

    def styles(options: list[str]) -> str:
        result = subprocess.run(
            [pandoc, "--from=markdown", "--to=html5", "--standalone", "--metadata=title:x",
             *options],
            input=b"", capture_output=True, check=True,
        )
        text = result.stdout.decode("utf-8")
        start = text.index("  <style>")
        return text[start:text.index("</head>", start)]

    css = [f"--css={stylesheet}"] if stylesheet else []
    return styles([]), styles([*css, "--embed-resources"])


def embed_stylesheet(html: str, pandoc: str, stylesheet: Path | None) -> str | None:
    """``html`` (written by pandoc without ``--css``) with the stylesheet embedded in its head
    as ``--embed-resources --css`` embeds it; None when its head is not the expected one.

    Examples
    --------
    >>> embed_stylesheet(Path("report.html").read_text(), "pandoc", None)  # doctest: +SKIP
    """
    plain, embedded = _head_styles(pandoc, str(stylesheet) if stylesheet else None)
    if html.count(plain) != 1:
        return None
    return _escape_apostrophes(html.replace(plain, embedded))


def _escape_apostrophes(html: str) -> str:
    """``'`` as ``&#39;`` outside style and script elements, as pandoc's embedding pass
    writes the page (the same text to a browser, and the same bytes as before).

    Examples
    --------
    >>> _escape_apostrophes("<p>it's</p><style>a{content:'x'}</style>")
    "<p>it&#39;s</p><style>a{content:'x'}</style>"
    """
    out, last = [], 0
    for raw in _RAW_TEXT.finditer(html):
        out += [html[last:raw.start()].replace("'", "&#39;"), raw.group(0)]
        last = raw.end()
    out.append(html[last:].replace("'", "&#39;"))
    return "".join(out)


def links_local_files(html: str) -> bool:
    """Whether the page still loads a file by address (an image, script or stylesheet).

    Examples
    --------
    >>> links_local_files('<img src="data:image/png;base64,AA" alt="" />')
    False
    >>> links_local_files('<img src="figures/a.png" alt="" />')
    True
    """
    return _LOCAL_LINK.search(html) is not None
