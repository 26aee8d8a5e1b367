"""The compare stage: group comparisons, organisation benchmarks and structural drivers.

Every table carries, per row, the respondent set it describes (dimension columns such as
``org``, ``wave`` or the grouping column, with NA meaning "everyone") and its count ``n``, so the
disclosure gate (:mod:`fieldsurvey.disclosure`) can withhold small cells before anything is
shown. Statistics for small cells are computed, never hidden here: the gate decides.
"""

from fieldsurvey.compare._common import ALL, CompareError
from fieldsurvey.compare.benchmark import (
    benchmark_bands,
    benchmark_organisations,
    organisation_trend,
)
from fieldsurvey.compare.categorical import (
    category_distribution,
    compare_categories,
    independence_test,
)
from fieldsurvey.compare.drivers import (
    CONDITIONS,
    COVARIATES,
    INDIVIDUAL,
    WELLBEING,
    block_tests,
    cluster_ols,
    organisation_icc,
    random_intercept,
    structural_drivers,
    variance_shares,
)
from fieldsurvey.compare.funnel import funnel_curves, funnel_limits, overdispersion
from fieldsurvey.compare.groups import (
    compare_groups,
    comparison_to_json,
    group_descriptives,
    omega_squared,
    welch_two_groups,
)
from fieldsurvey.compare.lived_experience import LivedExperienceLens, lived_experience_lens
from fieldsurvey.compare.shrinkage import (
    between_variance,
    empirical_bayes,
    shrink_organisation_means,
)
from fieldsurvey.compare.standardise import (
    standardise_role_mix,
    survey_weights,
    weighted_differences,
    weighted_means,
)

__all__ = [
    "ALL",
    "CONDITIONS",
    "COVARIATES",
    "INDIVIDUAL",
    "WELLBEING",
    "CompareError",
    "LivedExperienceLens",
    "benchmark_bands",
    "benchmark_organisations",
    "between_variance",
    "block_tests",
    "category_distribution",
    "cluster_ols",
    "compare_categories",
    "compare_groups",
    "comparison_to_json",
    "empirical_bayes",
    "funnel_curves",
    "funnel_limits",
    "group_descriptives",
    "independence_test",
    "lived_experience_lens",
    "omega_squared",
    "organisation_icc",
    "overdispersion",
    "organisation_trend",
    "random_intercept",
    "shrink_organisation_means",
    "standardise_role_mix",
    "structural_drivers",
    "survey_weights",
    "variance_shares",
    "weighted_differences",
    "weighted_means",
    "welch_two_groups",
]
