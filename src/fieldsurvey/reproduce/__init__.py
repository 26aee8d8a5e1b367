"""Published findings as checkable claims, and consistency checks that need no data.

``load_findings`` reads a findings file (``analysis/*.yaml``); ``check_findings`` runs GRIM,
GRIMMER, percentage-vs-n, p-value recomputation and range checks on every printed value. Each
finding also carries a recipe for recomputing it from a study (run by the compare stage).
"""

from fieldsurvey.reproduce.check_result import CheckResult
from fieldsurvey.reproduce.consistency import (
    RESULT_COLUMNS,
    check_findings,
    grim,
    grimmer,
    percent_possible,
    value_in_range,
)
from fieldsurvey.reproduce.findings import (
    COMPUTABLE_LEVELS,
    STATISTICS,
    TESTS,
    Finding,
    FindingsError,
    FindingsFile,
    FindingValue,
    Population,
    Recipe,
    ScaleRef,
    findings_from_dict,
    load_findings,
)
from fieldsurvey.reproduce.published_value import (
    PublishedValue,
    PublishedValueError,
    Reported,
    ReportedP,
    parse_number,
    parse_published_value,
)
from fieldsurvey.reproduce.pvalues import check_p_value, p_range, recompute_p

__all__ = [
    "COMPUTABLE_LEVELS",
    "RESULT_COLUMNS",
    "STATISTICS",
    "TESTS",
    "CheckResult",
    "Finding",
    "FindingValue",
    "FindingsError",
    "FindingsFile",
    "Population",
    "PublishedValue",
    "PublishedValueError",
    "Recipe",
    "Reported",
    "ReportedP",
    "ScaleRef",
    "check_findings",
    "check_p_value",
    "findings_from_dict",
    "grim",
    "grimmer",
    "load_findings",
    "p_range",
    "parse_number",
    "parse_published_value",
    "percent_possible",
    "recompute_p",
    "value_in_range",
]

# Recomputing findings from a study, and pre-registered analysis plans (run-plan).
from fieldsurvey.reproduce.plan import (  # noqa: E402
    DECISIONS,
    PLAN_COLUMNS,
    Hypothesis,
    Plan,
    PlanError,
    PlanTest,
    load_plan,
    plan_from_dict,
    run_plan,
)
from fieldsurvey.reproduce.recompute import (  # noqa: E402
    REPRODUCE_COLUMNS,
    VERDICTS,
    compute_findings,
    lived_groups,
    reproduce_table,
    wilson_interval,
    with_scores,
)

__all__ += [
    "DECISIONS",
    "PLAN_COLUMNS",
    "REPRODUCE_COLUMNS",
    "VERDICTS",
    "Hypothesis",
    "Plan",
    "PlanError",
    "PlanTest",
    "load_plan",
    "plan_from_dict",
    "compute_findings",
    "lived_groups",
    "reproduce_table",
    "run_plan",
    "wilson_interval",
    "with_scores",
]
