"""Licence checks and the wording every fielded form must carry (notices, recall, consent).

Licensed instruments ship without their wording. Fielding needs the wording, so an instrument
whose wording is neither included nor attached by the user is refused with a
:class:`FieldingError` that names the instrument, the licence holder's terms and the command that
attaches a licensed copy. Fielded forms carry the holder's notice, a link to the holder, and,
where the user marked the attached wording as adapted, the "adapted from ..." label that licences
such as the ProQOL's require.
"""

from __future__ import annotations

import re

from fieldsurvey.errors import FieldsurveyError
from fieldsurvey.instrument import Instrument, resolve_instrument, wording_is_adapted

DEFAULT_CONSENT = (
    "Taking part in this survey is voluntary. You may skip any question that is not marked as "
    "required and you may stop at any time. Your answers are confidential: results are only "
    "reported for groups large enough that no one can be identified. By continuing you agree to "
    "take part."
)

# Names for the language codes organisations use most; others are shown as their code.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "pt": "Portuguese",
    "de": "German",
    "it": "Italian",
    "nl": "Dutch",
    "ar": "Arabic",
    "zh": "Chinese",
    "ru": "Russian",
    "uk": "Ukrainian",
    "ro": "Romanian",
    "pl": "Polish",
    "vi": "Vietnamese",
    "tl": "Tagalog",
    "th": "Thai",
    "hi": "Hindi",
    "sw": "Swahili",
    "ko": "Korean",
    "ja": "Japanese",
    "el": "Greek",
    "tr": "Turkish",
    "fa": "Persian",
    "ur": "Urdu",
    "bn": "Bengali",
    "ne": "Nepali",
    "am": "Amharic",
    "so": "Somali",
    "ht": "Haitian Creole",
}


class FieldingError(FieldsurveyError):
    """An instrument cannot be fielded as asked (licence, missing wording, invalid names)."""


def language_label(code: str) -> str:
    """Return the XLSForm-style language label, e.g. ``"Spanish (es)"``.

    Examples
    --------
    >>> language_label("es")
    'Spanish (es)'
    """
    return f"{LANGUAGE_NAMES.get(code, code)} ({code})"


def with_fieldable_wording(inst: Instrument) -> Instrument:
    """Return the instrument with wording merged in, or raise :class:`FieldingError`.

    Wording the user attached with ``fieldsurvey instrument wording`` is merged here, so callers
    may pass bundled instruments as they are.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> with_fieldable_wording(resolve_instrument("workforce-context")).has_wording
    True
    """
    if not inst.has_wording:
        inst = resolve_instrument(inst, with_wording=True)
    if inst.has_wording:
        return inst
    lic = inst.licence
    if not lic.wording_included:
        raise FieldingError(
            f"cannot field instrument {inst.id!r} ({inst.title}): its item wording is not "
            f"included with fieldsurvey because of the licence holder's terms "
            f"({lic.holder}: {' '.join(lic.terms.split())}). If you hold a licensed copy, attach "
            f"it with `fieldsurvey instrument wording {inst.id} --from FILE` and field again. "
            f"The codebook (--to codebook) needs no wording."
        )
    missing = [it.id for it in inst.items if not it.text]
    raise FieldingError(
        f"cannot field instrument {inst.id!r} ({inst.title}): items without wording: "
        f"{', '.join(missing)}. Add 'text' to these items in {inst.source or 'the YAML file'}."
    )


def adapted_label(inst: Instrument) -> str:
    """The phrase a licence asks adapted wording to carry, e.g. ``"adapted from the ProQOL"``.

    Taken from the licence terms when they quote one (``labelled "adapted from the ProQOL"``),
    otherwise built from the instrument title.
    """
    quoted = r"[\"“]((?:adapted|modified) from [^\"”]+)[\"”]"
    match = re.search(quoted, inst.licence.terms, re.IGNORECASE)
    return match.group(1) if match else f"adapted from the {inst.title}"


def is_adapted(inst: Instrument) -> bool:
    """True when the user attached wording for a licensed instrument and marked it adapted."""
    return not inst.licence.wording_included and wording_is_adapted(inst.id)


def licence_notice(inst: Instrument) -> str:
    """The text a fielded form shows for the instrument: notice, link, adaptation label.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> licence_notice(resolve_instrument("workforce-context"))[:30]
    'Workforce context items (c) fi'
    """
    lic = inst.licence
    parts = (
        [" ".join(lic.notice.split())]
        if lic.notice
        else [f"{inst.title}. Licence holder: {lic.holder}. {' '.join(lic.terms.split())}"]
    )
    link = lic.url.removeprefix("https://").removeprefix("http://").rstrip("/")
    if lic.url and link not in parts[0]:
        parts.append(lic.url)
    if is_adapted(inst):
        label = adapted_label(inst)
        parts.append(f"This wording is {label}.")
    return " ".join(parts)


def recall_note(inst: Instrument) -> str | None:
    """The instruction that tells respondents the period the questions are about, if any."""
    if not inst.recall:
        return None
    return f"Please answer the following questions thinking about the {_period(inst.recall)}."


def _period(recall: str) -> str:
    # Recall periods are written "last 30 days" or "the past 12 months": avoid "the the".
    return recall[4:] if recall.lower().startswith("the ") else recall
