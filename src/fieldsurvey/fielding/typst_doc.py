"""Write a Typst document next to its PDF and compile it with the ``typst`` wheel.

The ``.typ`` source is kept beside the PDF so a user can restyle the form and compile it again
(``typst compile form.typ``) without fieldsurvey.
"""

from __future__ import annotations

import json
from pathlib import Path

import typst


def tstr(text: object) -> str:
    """A Typst string literal for ``text``; inserted as ``#tstr`` it prints the text verbatim.

    Typst's string escapes (``\\\\``, ``\\"``, ``\\n``) match JSON's for the text we write
    (line breaks and control characters are removed first).

    Examples
    --------
    >>> tstr('Say "hi" #now')
    '"Say \\\\"hi\\\\" #now"'
    """
    return json.dumps(" ".join(str(text).split()), ensure_ascii=False)


def compile_pdf(source: str, out: Path) -> Path:
    """Write ``source`` to ``out`` with suffix ``.typ`` and compile it to ``out`` (a PDF)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    typ = out.with_suffix(".typ")
    typ.write_text(source, encoding="utf-8")
    typst.compile(str(typ), output=str(out))
    return out
