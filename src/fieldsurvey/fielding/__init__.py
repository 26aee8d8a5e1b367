"""Fielding: export instruments to the survey platforms organisations use.

One entry point, :func:`field_instruments`, writes any format; a study-based call (a study folder
listing its instruments) reuses it. Formats: ``xlsform`` (KoboToolbox/ODK/SurveyCTO),
``redcap`` (data dictionary CSV), ``qualtrics`` (.qsf), ``limesurvey`` (tab-separated
structure), ``paper`` (.pdf or .docx) and ``codebook`` (.html or .pdf). Field names are our item
ids wherever the platform allows, so ingest maps platform exports back without a lookup table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fieldsurvey.fielding.codebook import codebook_items, codebook_scales, write_codebook
from fieldsurvey.fielding.limesurvey import (
    limesurvey_code,
    limesurvey_item_map,
    read_limesurvey,
    write_limesurvey,
)
from fieldsurvey.fielding.notices import FieldingError, licence_notice, with_fieldable_wording
from fieldsurvey.fielding.paper import write_paper
from fieldsurvey.fielding.plan import FieldedItem, FormPlan, build_plan
from fieldsurvey.fielding.qualtrics_qsf import read_qsf, write_qsf
from fieldsurvey.fielding.redcap import read_redcap_dictionary, write_redcap_dictionary
from fieldsurvey.fielding.xlsform import write_xlsform
from fieldsurvey.instrument import Instrument

_WRITERS: dict[str, tuple[Callable[[FormPlan, Path], Path], tuple[str, ...]]] = {
    "xlsform": (write_xlsform, (".xlsx",)),
    "redcap": (write_redcap_dictionary, (".csv",)),
    "qualtrics": (write_qsf, (".qsf",)),
    "limesurvey": (write_limesurvey, (".txt",)),
    "paper": (write_paper, (".pdf", ".docx")),
}
FORMATS: tuple[str, ...] = (*_WRITERS, "codebook")
_CODEBOOK_SUFFIXES = (".html", ".pdf")


def field_instruments(
    instruments: list[Instrument],
    to: str,
    out: Path,
    *,
    languages: list[str] | None = None,
    consent_text: str | None = None,
    title: str | None = None,
) -> Path:
    """Write ``instruments`` as one form in format ``to`` at ``out``; return the written path.

    Parameters
    ----------
    instruments : list of Instrument
        In form order. Wording the user attached (``fieldsurvey instrument wording``) is merged.
    to : {"xlsform", "redcap", "qualtrics", "limesurvey", "paper", "codebook"}
    out : Path
        Output file. Its suffix must fit the format (``.xlsx``, ``.csv``, ``.qsf``, ``.txt``,
        ``.pdf``/``.docx`` for paper, ``.html``/``.pdf`` for the codebook). An existing folder
        gets a file named after the instruments with the format's first suffix.
    languages : list of str, optional
        Language codes to field (default: every language the wording has, English first).
        Paper forms use the first.
    consent_text : str, optional
        Opening consent paragraph (default: a short voluntary-and-confidential statement).
    title : str, optional
        Form title (default: the instrument titles joined by "+").

    Raises
    ------
    FieldingError
        Unknown format, wrong suffix, or an instrument that cannot be fielded: most often a
        licensed instrument whose wording the user has not attached (the message says which,
        the holder's terms, and the command to attach it).

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "context.csv"
    >>> field_instruments([resolve_instrument("workforce-context")], "redcap", out).name
    'context.csv'
    """
    if to not in FORMATS:
        raise FieldingError(f"unknown format {to!r}: choose one of {', '.join(FORMATS)}")
    suffixes = _CODEBOOK_SUFFIXES if to == "codebook" else _WRITERS[to][1]
    out = Path(out)
    if out.is_dir():
        stem = "_".join(inst.id for inst in instruments) or "form"
        out = out / f"{stem}{'_codebook' if to == 'codebook' else ''}{suffixes[0]}"
    if out.suffix.lower() not in suffixes:
        raise FieldingError(
            f"{out.name}: format {to!r} is written to a file ending in {' or '.join(suffixes)}"
        )
    if to == "codebook":
        return write_codebook(instruments, out, title=title)
    plan = build_plan(instruments, languages=languages, consent_text=consent_text, title=title)
    return _WRITERS[to][0](plan, out)


__all__ = [
    "FORMATS",
    "FieldedItem",
    "FieldingError",
    "FormPlan",
    "build_plan",
    "codebook_items",
    "codebook_scales",
    "field_instruments",
    "licence_notice",
    "limesurvey_code",
    "limesurvey_item_map",
    "read_limesurvey",
    "read_qsf",
    "read_redcap_dictionary",
    "with_fieldable_wording",
    "write_codebook",
]
