"""A platform-neutral plan of the form: sections, blocks and questions, built once per call.

Every writer (XLSForm, REDCap, Qualtrics, LimeSurvey, paper) renders the same plan, so decisions
such as which items form a Likert block, how choice lists are named, which names are valid and
which languages are fielded are made in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

from fieldsurvey.fielding.notices import (
    DEFAULT_CONSENT,
    FieldingError,
    licence_notice,
    recall_note,
    with_fieldable_wording,
)
from fieldsurvey.instrument import Instrument, ResponseScale

QuestionKind = Literal["choice", "integer", "decimal", "text"]

# Answer labels for yes/no items whose response scale gives none; codes 1 = yes, 0 = no.
YESNO_LABELS: dict[int, str] = {1: "Yes", 0: "No"}

_NAME_OK = re.compile(r"^[a-z][a-z0-9_]*$")


class FieldedItem(NamedTuple):
    """One answerable item as a platform file holds it: its name, answer codes and labels."""

    item_id: str
    codes: tuple[int, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """One fielded item. ``text`` and choice labels map a language code to wording."""

    id: str
    kind: QuestionKind
    text: dict[str, str]
    response_scale: str
    scale_type: str  # the response scale's type: likert, numeric, categorical, yesno, text
    choice_list: str  # sanitized "<instrument>_<scale>"; "" when the question has no choices
    choices: tuple[tuple[int, str], ...] = ()  # (code, label) in the order shown
    required: bool = False
    sensitive: bool = False
    reverse: bool = False
    likert: bool = False
    min: float | None = None
    max: float | None = None
    hint: str = ""


@dataclass(frozen=True)
class Block:
    """Consecutive questions shown together; ``matrix`` blocks share one Likert scale."""

    name: str
    questions: tuple[Question, ...]
    matrix: bool


@dataclass(frozen=True)
class Section:
    """One instrument on the form."""

    instrument: Instrument
    name: str  # sanitized instrument id: form/group/block name on every platform
    title: str
    notice: str
    recall: str | None
    blocks: tuple[Block, ...]

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for b in self.blocks for q in b.questions)


@dataclass(frozen=True)
class FormPlan:
    title: str
    languages: tuple[str, ...]
    consent: str
    sections: tuple[Section, ...]

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for s in self.sections for q in s.questions)

    @property
    def default_language(self) -> str:
        return self.languages[0]


def sanitize_name(text: str) -> str:
    """Lower-case ``text`` and keep letters, digits and underscores; start with a letter.

    Examples
    --------
    >>> sanitize_name("structural-conditions")
    'structural_conditions'
    """
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"f_{name}"
    return name


def build_plan(
    instruments: list[Instrument],
    *,
    languages: list[str] | None = None,
    consent_text: str | None = None,
    title: str | None = None,
) -> FormPlan:
    """Check the instruments can be fielded and lay them out as sections of one form.

    Parameters
    ----------
    instruments : list of Instrument
        In the order they appear on the form. Wording the user attached is merged in.
    languages : list of str, optional
        Language codes to field; default every language the wording has (English first).
    consent_text : str, optional
        Opening consent paragraph; default :data:`DEFAULT_CONSENT`.
    title : str, optional
        Form title; default the instrument titles joined.

    Raises
    ------
    FieldingError
        Wording missing (licence), a requested language missing, an item id that is not a valid
        field name, or the same item id in two instruments.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> plan = build_plan([resolve_instrument("workforce-context")])
    >>> plan.sections[0].name, plan.languages
    ('workforce_context', ('en',))
    """
    if not instruments:
        raise FieldingError("nothing to field: give at least one instrument")
    fieldable = [with_fieldable_wording(inst) for inst in instruments]
    langs = _choose_languages(fieldable, languages)
    seen: dict[str, str] = {}
    sections = []
    for inst in fieldable:
        for item_id in inst.item_ids:
            if not _NAME_OK.match(item_id):
                raise FieldingError(
                    f"instrument {inst.id!r}: item id {item_id!r} cannot be a field name on survey "
                    "platforms: use lower-case letters, digits and '_' starting with a letter"
                )
            if item_id in seen:
                raise FieldingError(
                    f"item id {item_id!r} is in both {seen[item_id]!r} and {inst.id!r}: "
                    "field names must be unique on one form"
                )
            seen[item_id] = inst.id
        sections.append(_section(inst, langs))
    names = [s.name for s in sections]
    if len(set(names)) != len(names):
        raise FieldingError(f"the same instrument is listed twice: {', '.join(names)}")
    return FormPlan(
        title=title or " + ".join(inst.title for inst in fieldable),
        languages=langs,
        consent=" ".join((consent_text or DEFAULT_CONSENT).split()),
        sections=tuple(sections),
    )


def _choose_languages(
    instruments: list[Instrument], requested: list[str] | None
) -> tuple[str, ...]:
    available: list[str] = []
    for inst in instruments:
        for lang in inst.languages:
            if lang not in available:
                available.append(lang)
    if requested:
        for inst in instruments:
            missing = [lang for lang in requested if lang not in inst.languages]
            if missing:
                raise FieldingError(
                    f"instrument {inst.id!r} has no wording in {', '.join(missing)} "
                    f"(it has: {', '.join(inst.languages)})"
                )
        return tuple(requested)
    common = [lang for lang in available if all(lang in i.languages for i in instruments)]
    if not common:
        raise FieldingError("the instruments share no language; pass languages=[...] explicitly")
    return tuple(sorted(common, key=lambda code: (code != "en", common.index(code))))


def _section(inst: Instrument, langs: tuple[str, ...]) -> Section:
    name = sanitize_name(inst.id)
    blocks: list[Block] = []
    run: list[Question] = []
    run_scale = ""
    used: dict[str, int] = {}

    def close_run() -> None:
        if not run:
            return
        base = f"{name}_{sanitize_name(run_scale)}"
        used[base] = used.get(base, 0) + 1
        block_name = base if used[base] == 1 else f"{base}_{used[base]}"
        blocks.append(Block(block_name, tuple(run), matrix=True))
        run.clear()

    for item in inst.items:
        q = _question(inst, item.id, name, langs)
        if q.likert and q.response_scale == run_scale:
            run.append(q)
            continue
        close_run()
        if q.likert:
            run_scale = q.response_scale
            run.append(q)
        else:
            run_scale = ""
            blocks.append(Block(q.id, (q,), matrix=False))
    close_run()
    return Section(
        instrument=inst,
        name=name,
        title=inst.title,
        notice=licence_notice(inst),
        recall=recall_note(inst),
        blocks=tuple(blocks),
    )


def _question(inst: Instrument, item_id: str, section: str, langs: tuple[str, ...]) -> Question:
    item = inst.item(item_id)
    rs: ResponseScale = inst.response_scales[item.scale]
    text = {lang: " ".join(item.text[lang].split()) for lang in langs}  # type: ignore[index]
    common = dict(
        id=item.id,
        text=text,
        response_scale=item.scale,
        scale_type=rs.type,
        required=item.required,
        sensitive=item.sensitive,
        reverse=item.reverse,
    )
    if rs.is_coded and (rs.labels or rs.type == "yesno"):
        labels = rs.labels or YESNO_LABELS
        return Question(
            kind="choice",
            choice_list=f"{section}_{sanitize_name(item.scale)}",
            choices=tuple((int(code), str(label)) for code, label in labels.items()),
            likert=rs.type == "likert",
            **common,
        )
    if rs.type == "likert":  # a Likert scale without labels: show the numbers as labels
        low = 1 if rs.min is None else int(rs.min)
        codes = range(low, (5 if rs.max is None else int(rs.max)) + 1)
        return Question(
            kind="choice",
            choice_list=f"{section}_{sanitize_name(item.scale)}",
            choices=tuple((c, str(c)) for c in codes),
            likert=True,
            **common,
        )
    if rs.type == "categorical":  # codes set by the study (e.g. organisation): enter the code
        return Question(
            kind="integer",
            choice_list="",
            min=rs.min,
            max=rs.max,
            hint="Enter the code you were given for this question.",
            **common,
        )
    if rs.type == "numeric":
        whole = all(v is None or float(v).is_integer() for v in (rs.min, rs.max))
        return Question(
            kind="integer" if whole else "decimal", choice_list="", min=rs.min, max=rs.max, **common
        )
    return Question(kind="text", choice_list="", **common)


def fmt_number(value: float | None) -> str:
    """Write a bound without a trailing ``.0`` (``80`` not ``80.0``)."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
