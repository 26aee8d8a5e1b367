"""The parameter table of a (multi-group) CFA: which matrix cells are free, fixed or equal.

A model is the LISREL "all-y" measurement model: per group g,
``Sigma_g = Lambda Psi Lambda' + Theta`` and, with a mean structure, ``mu_g = nu + Lambda alpha``.
Defaults follow lavaan's ``cfa()``: the first loading of each factor is fixed to 1 (marker
variable), residual and latent variances are free, factor covariances are free, intercepts are
free and latent means fixed to 0 -- except that when intercepts are constrained equal across
groups the latent means are freed in every group after the first.

Equality constraints (``group_equal``, labels) are a re-parameterisation: every free cell carries
the index of the element of the free vector ``x`` it reads, and equal cells share one index. For
simple equalities this gives the same estimates, standard errors and degrees of freedom as
lavaan's constrained optimisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fieldsurvey.psychometrics.lavaan_syntax import (
    LavaanSyntaxError,
    ModelTerm,
    ParameterRef,
    parse_parameter_ref,
)

#: lavaan's ``group.equal`` keywords this implementation understands.
GROUP_EQUAL_KEYWORDS: tuple[str, ...] = (
    "loadings",
    "intercepts",
    "means",
    "residuals",
    "residual.covariances",
    "lv.variances",
    "lv.covariances",
)


@dataclass
class Parameter:
    """One cell of one model matrix in one group."""

    group: int
    lhs: str
    op: str
    rhs: str
    matrix: str  # "lambda", "theta", "psi", "nu" or "alpha"
    row: int
    col: int
    free: bool
    value: float  # the fixed value, or the start value once starts are set
    label: str | None = None
    index: int = -1  # position in the free vector; -1 when fixed
    start: float | None = None  # a start the user gave with start(...)

    @property
    def kind(self) -> str:
        """The ``group.equal`` keyword that would constrain this parameter."""
        if self.matrix == "lambda":
            return "loadings"
        if self.matrix == "nu":
            return "intercepts"
        if self.matrix == "alpha":
            return "means"
        if self.matrix == "theta":
            return "residuals" if self.row == self.col else "residual.covariances"
        return "lv.variances" if self.row == self.col else "lv.covariances"


@dataclass
class ParTable:
    """All parameters of a model plus the variable order the matrices use."""

    observed: list[str]
    factors: list[str]
    n_groups: int
    meanstructure: bool
    params: list[Parameter]
    n_free: int

    def in_group(self, group: int) -> list[Parameter]:
        return [p for p in self.params if p.group == group]


def build_partable(
    terms: Sequence[ModelTerm],
    *,
    n_groups: int = 1,
    meanstructure: bool = False,
    group_equal: Sequence[str] = (),
    group_partial: Sequence[str | ParameterRef] = (),
) -> ParTable:
    """Build the parameter table for parsed model terms.

    Parameters
    ----------
    terms : sequence of ModelTerm
        From :func:`fieldsurvey.psychometrics.lavaan_syntax.parse_model`.
    n_groups : int
        Number of groups (multi-group CFA when > 1).
    meanstructure : bool
        Model intercepts and latent means (always on when the model has ``~ 1`` terms).
    group_equal : sequence of str
        lavaan ``group.equal`` keywords, see :data:`GROUP_EQUAL_KEYWORDS`.
    group_partial : sequence of str
        Parameters exempt from ``group_equal``, e.g. ``"visual=~x2"``, ``"x3~1"``.

    Examples
    --------
    >>> from fieldsurvey.psychometrics.lavaan_syntax import parse_model
    >>> pt = build_partable(parse_model("f =~ a + b + c"))
    >>> pt.n_free
    6
    """
    unknown = [kw for kw in group_equal if kw not in GROUP_EQUAL_KEYWORDS]
    if unknown:
        raise LavaanSyntaxError(
            f"unknown group_equal keyword(s) {unknown}; known: {', '.join(GROUP_EQUAL_KEYWORDS)}"
        )
    partial = [p if isinstance(p, ParameterRef) else parse_parameter_ref(p) for p in group_partial]
    factors, observed = _variables(terms)
    if any(t.op == "~" for t in terms):
        meanstructure = True
    user = _user_terms(terms, factors, observed)

    params: list[Parameter] = []
    for g in range(n_groups):
        params.extend(_loadings(terms, g, factors, observed))
        params.extend(_covariances(user, g, factors, observed))
        if meanstructure:
            params.extend(_means(user, g, factors, observed, group_equal))
    n_free = _assign_indices(params, group_equal, partial, n_groups)
    return ParTable(observed, factors, n_groups, meanstructure, params, n_free)


def _variables(terms: Sequence[ModelTerm]) -> tuple[list[str], list[str]]:
    factors: list[str] = []
    observed: list[str] = []
    for t in terms:
        if t.op == "=~" and t.lhs not in factors:
            factors.append(t.lhs)
    if not factors:
        raise LavaanSyntaxError("the model defines no factor: write e.g. 'f1 =~ x1 + x2 + x3'")
    for t in terms:
        if t.op == "=~":
            if t.rhs in factors:
                raise LavaanSyntaxError(
                    f"'{t.lhs} =~ {t.rhs}': higher-order factors are not supported"
                )
            if t.rhs not in observed:
                observed.append(t.rhs)
    for t in terms:
        for name in (t.lhs, t.rhs):
            if t.op != "=~" and name != "1" and name not in factors and name not in observed:
                raise LavaanSyntaxError(
                    f"'{t.lhs} {t.op} {t.rhs}': {name!r} is neither a factor nor an indicator "
                    "of one; every observed variable must load on a factor"
                )
    seen: set[tuple[str, str, str]] = set()
    for t in terms:
        key = (t.lhs, t.op, t.rhs)
        if t.op == "~~":
            key = (min(t.lhs, t.rhs), t.op, max(t.lhs, t.rhs))
        if key in seen:
            raise LavaanSyntaxError(f"'{t.lhs} {t.op} {t.rhs}' is written more than once")
        seen.add(key)
    for f in factors:
        n_ind = sum(1 for t in terms if t.op == "=~" and t.lhs == f)
        if n_ind < 2:
            raise LavaanSyntaxError(
                f"factor {f!r} has {n_ind} indicator; a factor needs at least 2 (3 or more "
                "for a factor that is identified on its own)"
            )
    return factors, observed


def _user_terms(
    terms: Sequence[ModelTerm], factors: list[str], observed: list[str]
) -> dict[tuple[str, int, int], ModelTerm]:
    """Index ``~~`` and ``~ 1`` terms by (matrix, row, col)."""
    user: dict[tuple[str, int, int], ModelTerm] = {}
    for t in terms:
        if t.op == "~~":
            lhs_f, rhs_f = t.lhs in factors, t.rhs in factors
            if lhs_f != rhs_f:
                raise LavaanSyntaxError(
                    f"'{t.lhs} ~~ {t.rhs}': covariances between a factor and an observed "
                    "variable are not supported"
                )
            names = factors if lhs_f else observed
            i, j = names.index(t.lhs), names.index(t.rhs)
            user[("psi" if lhs_f else "theta", max(i, j), min(i, j))] = t
        elif t.op == "~":
            if t.lhs in factors:
                user[("alpha", factors.index(t.lhs), 0)] = t
            else:
                user[("nu", observed.index(t.lhs), 0)] = t
    return user


def _from_term(
    term: ModelTerm | None,
    g: int,
    lhs: str,
    op: str,
    rhs: str,
    matrix: str,
    row: int,
    col: int,
    *,
    free_by_default: bool,
    default_value: float = 0.0,
) -> Parameter:
    if term is None:
        return Parameter(g, lhs, op, rhs, matrix, row, col, free_by_default, default_value)
    if term.fixed is not None:
        return Parameter(g, lhs, op, rhs, matrix, row, col, False, term.fixed, term.label)
    return Parameter(g, lhs, op, rhs, matrix, row, col, True, 0.0, term.label, start=term.start)


def _loadings(
    terms: Sequence[ModelTerm], g: int, factors: list[str], observed: list[str]
) -> list[Parameter]:
    out: list[Parameter] = []
    marked: set[str] = set()
    for t in terms:
        if t.op != "=~":
            continue
        i, f = observed.index(t.rhs), factors.index(t.lhs)
        first = t.lhs not in marked
        marked.add(t.lhs)
        if first and t.fixed is None and not t.free_marker:
            # lavaan's auto.fix.first: the marker loading is 1 (a label on it is kept).
            out.append(Parameter(g, t.lhs, "=~", t.rhs, "lambda", i, f, False, 1.0, t.label))
        else:
            out.append(_from_term(t, g, t.lhs, "=~", t.rhs, "lambda", i, f, free_by_default=True))
    return out


def _covariances(
    user: dict[tuple[str, int, int], ModelTerm], g: int, factors: list[str], observed: list[str]
) -> list[Parameter]:
    out: list[Parameter] = []
    for i, name in enumerate(observed):
        term = user.get(("theta", i, i))
        out.append(_from_term(term, g, name, "~~", name, "theta", i, i, free_by_default=True))
    for (matrix, i, j), term in user.items():
        if matrix == "theta" and i != j:
            out.append(
                _from_term(term, g, term.lhs, "~~", term.rhs, "theta", i, j, free_by_default=True)
            )
    for i, name in enumerate(factors):
        term = user.get(("psi", i, i))
        out.append(_from_term(term, g, name, "~~", name, "psi", i, i, free_by_default=True))
    for i in range(len(factors)):
        for j in range(i):
            term = user.get(("psi", i, j))
            lhs, rhs = (term.lhs, term.rhs) if term else (factors[j], factors[i])
            out.append(_from_term(term, g, lhs, "~~", rhs, "psi", i, j, free_by_default=True))
    return out


def _means(
    user: dict[tuple[str, int, int], ModelTerm],
    g: int,
    factors: list[str],
    observed: list[str],
    group_equal: Sequence[str],
) -> list[Parameter]:
    out: list[Parameter] = []
    for i, name in enumerate(observed):
        term = user.get(("nu", i, 0))
        out.append(_from_term(term, g, name, "~1", "", "nu", i, 0, free_by_default=True))
    # With equal intercepts the latent means become identified (and free) after the first group.
    free_means = g > 0 and "intercepts" in group_equal and "means" not in group_equal
    for f, name in enumerate(factors):
        term = user.get(("alpha", f, 0))
        out.append(_from_term(term, g, name, "~1", "", "alpha", f, 0, free_by_default=free_means))
    return out


def _assign_indices(
    params: list[Parameter],
    group_equal: Sequence[str],
    partial: list[ParameterRef],
    n_groups: int,
) -> int:
    used_partial: set[str] = set()
    keys: dict[tuple, int] = {}
    for p in params:
        if not p.free:
            p.index = -1
            continue
        exempt = False
        for ref in partial:
            is_mean = p.op == "~1"
            if ref.matches(p.lhs, "~" if is_mean else p.op, "1" if is_mean else p.rhs):
                exempt = True
                used_partial.add(str(ref))
        if p.label is not None:
            key: tuple = ("label", p.label)
        elif n_groups > 1 and p.kind in group_equal and not exempt:
            key = ("equal", p.matrix, p.row, p.col)
        else:
            key = ("own", p.group, p.matrix, p.row, p.col)
        p.index = keys.setdefault(key, len(keys))
    unused = [str(ref) for ref in partial if str(ref) not in used_partial]
    if unused:
        raise LavaanSyntaxError(
            f"group_partial {unused} match(es) no free parameter of the model "
            "(write e.g. 'visual=~x2' or 'x3~1')"
        )
    return len(keys)
