"""Parse the measurement-model subset of lavaan's model syntax.

Supported statements (one per line or separated by ``;``; ``#`` and ``!`` start a comment; a
statement may continue on the next line when a line ends with ``+`` or the next starts with it):

* ``f =~ x1 + x2 + x3``   factor ``f`` measured by the observed columns ``x1``..``x3``
* ``x1 ~~ x2``, ``f ~~ g`` residual / latent (co)variances
* ``x1 ~ 1``, ``f ~ 1``   intercepts and latent means

Each right-hand term may carry modifiers before ``*``: a number fixes the parameter
(``1*x1``, ``0*x1``), ``NA`` frees it (``NA*x1`` frees a marker loading), ``start(0.5)`` gives a
starting value, and a name is a label: parameters sharing a label are constrained equal (across
groups too). Regressions (``y ~ x``), defined parameters (``:=``), (in)equality constraints
(``==``, ``<``, ``>``), thresholds (``|``), formative factors (``<~``) and group-specific vectors
(``c(...)``) are refused with a clear message rather than silently mis-read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_NAME = r"[A-Za-z_.][A-Za-z0-9_.]*"
_NAME_RE = re.compile(rf"^{_NAME}$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_START_RE = re.compile(r"^start\(\s*([^)]*)\s*\)$")
_OPERATORS = ("=~", "~~", "~")
_REFUSED = {
    ":=": "defined parameters (:=)",
    "==": "equality constraints (==); use labels instead",
    "<~": "formative factors (<~)",
    "<": "inequality constraints (<)",
    ">": "inequality constraints (>)",
    "|": "thresholds (|); ordinal CFA is not supported",
}


class LavaanSyntaxError(ValueError):
    """The model text cannot be read; the message names the statement."""


@dataclass(frozen=True)
class ModelTerm:
    """One parameter the user wrote: ``lhs op rhs`` with its modifiers.

    ``fixed`` is the value a number modifier fixes the parameter to (None: free), ``free_marker``
    is True for ``NA*`` (the user frees a parameter lavaan would fix), ``label`` ties parameters
    with the same label to one value, ``start`` is a starting value.
    """

    lhs: str
    op: str
    rhs: str
    fixed: float | None = None
    label: str | None = None
    start: float | None = None
    free_marker: bool = False


@dataclass(frozen=True)
class ParameterRef:
    """A reference to a parameter without modifiers, as in lavaan's ``group.partial``."""

    lhs: str
    op: str
    rhs: str

    def matches(self, lhs: str, op: str, rhs: str) -> bool:
        if op != self.op:
            return False
        if (lhs, rhs) == (self.lhs, self.rhs):
            return True
        return op == "~~" and (rhs, lhs) == (self.lhs, self.rhs)

    def __str__(self) -> str:
        return f"{self.lhs}{self.op}{self.rhs}"


def parse_model(text: str) -> list[ModelTerm]:
    """Parse lavaan model syntax into a list of :class:`ModelTerm`.

    Parameters
    ----------
    text : str
        lavaan syntax; statements separated by newlines or ``;``.

    Returns
    -------
    list of ModelTerm
        In the order written.

    Raises
    ------
    LavaanSyntaxError
        Naming the statement that cannot be read.

    Examples
    --------
    >>> terms = parse_model("visual =~ x1 + x2 + x3; textual =~ x4 + 0.5*x5")
    >>> [(t.lhs, t.op, t.rhs, t.fixed) for t in terms][-1]
    ('textual', '=~', 'x5', 0.5)
    """
    if not isinstance(text, str) or not text.strip():
        raise LavaanSyntaxError("the model is empty: write e.g. 'f1 =~ x1 + x2 + x3'")
    terms: list[ModelTerm] = []
    for number, statement in enumerate(_statements(text), start=1):
        terms.extend(_parse_statement(statement, number))
    if not terms:
        raise LavaanSyntaxError("the model has no statements")
    return terms


def parse_parameter_ref(text: str) -> ParameterRef:
    """Parse a parameter reference such as ``"visual=~x2"``, ``"x3~1"`` or ``"x1~~x1"``.

    Examples
    --------
    >>> parse_parameter_ref("visual =~ x2")
    ParameterRef(lhs='visual', op='=~', rhs='x2')
    """
    compact = re.sub(r"\s+", "", str(text))
    for op in _OPERATORS:
        if op in compact:
            lhs, _, rhs = compact.partition(op)
            if _NAME_RE.match(lhs) and (_NAME_RE.match(rhs) or (op == "~" and rhs == "1")):
                return ParameterRef(lhs, op, rhs)
            break
    raise LavaanSyntaxError(
        f"cannot read parameter {text!r}: write it as in lavaan's group.partial, "
        "e.g. 'visual=~x2' (loading), 'x3~1' (intercept), 'x1~~x1' (residual variance)"
    )


def _statements(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.replace("\r", "\n").split("\n"):
        line = re.split(r"[#!]", raw, maxsplit=1)[0]
        lines.extend(part.strip() for part in line.split(";"))
    merged: list[str] = []
    for line in lines:
        if not line:
            continue
        continues = merged and (merged[-1].endswith("+") or line.startswith("+"))
        if continues or (merged and not _has_operator(line)):
            merged[-1] = f"{merged[-1]} {line}"
        else:
            merged.append(line)
    return merged


def _has_operator(line: str) -> bool:
    return any(op in line for op in (*_OPERATORS, *_REFUSED))


def _parse_statement(statement: str, number: int) -> list[ModelTerm]:
    where = f"model statement {number} ({statement!r})"
    scrubbed = statement.replace("=~", " ")  # so '=' of '=~' is not read as part of '=='
    for token, what in _REFUSED.items():
        if token in scrubbed:
            raise LavaanSyntaxError(f"{where}: {what} are not supported")
    op = next((o for o in _OPERATORS if o in statement), None)
    if op is None:
        raise LavaanSyntaxError(f"{where}: no operator; expected '=~', '~~' or '~ 1'")
    lhs_text, _, rhs_text = statement.partition(op)
    lhs_names = [part.strip() for part in lhs_text.split("+")]
    for name in lhs_names:
        if not _NAME_RE.match(name):
            raise LavaanSyntaxError(f"{where}: {name!r} is not a valid variable name")
    rhs_parts = [part.strip() for part in rhs_text.split("+")]
    if any(not part for part in rhs_parts):
        raise LavaanSyntaxError(f"{where}: empty term on the right-hand side")
    terms: list[ModelTerm] = []
    for part in rhs_parts:
        rhs, fixed, label, start, free_marker = _parse_term(part, where)
        if op == "~" and rhs != "1":
            raise LavaanSyntaxError(
                f"{where}: regressions are not supported (only measurement models); "
                "'~ 1' (intercepts) is"
            )
        if op != "~" and rhs == "1":
            raise LavaanSyntaxError(f"{where}: '1' is only allowed as 'name ~ 1'")
        for lhs in lhs_names:
            terms.append(ModelTerm(lhs, op, rhs, fixed, label, start, free_marker))
    return terms


def _parse_term(part: str, where: str) -> tuple[str, float | None, str | None, float | None, bool]:
    pieces = [piece.strip() for piece in part.split("*")]
    rhs = pieces[-1]
    if not (_NAME_RE.match(rhs) or rhs == "1"):
        raise LavaanSyntaxError(f"{where}: {rhs!r} is not a valid variable name")
    fixed: float | None = None
    label: str | None = None
    start: float | None = None
    free_marker = False
    for modifier in pieces[:-1]:
        start_match = _START_RE.match(modifier)
        if _NUMBER_RE.match(modifier):
            fixed = float(modifier)
        elif modifier == "NA":
            free_marker = True
        elif start_match:
            try:
                start = float(start_match.group(1))
            except ValueError:
                raise LavaanSyntaxError(f"{where}: cannot read {modifier!r}") from None
        elif modifier.startswith("c("):
            raise LavaanSyntaxError(
                f"{where}: group-specific modifiers c(...) are not supported; "
                "use group_equal / group_partial"
            )
        elif _NAME_RE.match(modifier):
            label = modifier
        else:
            raise LavaanSyntaxError(f"{where}: cannot read modifier {modifier!r}")
    if fixed is not None and not math.isfinite(fixed):
        raise LavaanSyntaxError(f"{where}: fixed value must be finite")
    if fixed is not None and free_marker:
        raise LavaanSyntaxError(f"{where}: a parameter cannot be both fixed and NA (free)")
    return rhs, fixed, label, start, free_marker
