"""The compare stage: group comparisons, organisation benchmarks and structural drivers.

Every table carries, per row, the respondent set it describes (dimension columns such as
``org``, ``wave`` or the grouping column, with NA meaning "everyone") and its count ``n``, so the
disclosure gate (:mod:`fieldsurvey.disclosure`) can withhold small cells before anything is
shown. Statistics for small cells are computed, never hidden here: the gate decides.
"""

from __future__ import annotations

from fieldsurvey._lazy import lazy_exports

# Loaded on first use: a benchmark needs the leave-one-out sums, not pingouin and matplotlib
# (categorical tests), which cost seconds at start-up.
_LAZY = {
    "ALL": "fieldsurvey.compare._common",
    "CONDITIONS": "fieldsurvey.compare.drivers",
    "COVARIATES": "fieldsurvey.compare.drivers",
    "CompareError": "fieldsurvey.compare._common",
    "INDIVIDUAL": "fieldsurvey.compare.drivers",
    "LivedExperienceLens": "fieldsurvey.compare.lived_experience",
    "WELLBEING": "fieldsurvey.compare.drivers",
    "benchmark_bands": "fieldsurvey.compare.benchmark",
    "benchmark_organisations": "fieldsurvey.compare.benchmark",
    "between_variance": "fieldsurvey.compare.shrinkage",
    "block_tests": "fieldsurvey.compare.drivers",
    "category_distribution": "fieldsurvey.compare.categorical",
    "cluster_ols": "fieldsurvey.compare.drivers",
    "compare_categories": "fieldsurvey.compare.categorical",
    "compare_groups": "fieldsurvey.compare.groups",
    "comparison_to_json": "fieldsurvey.compare.groups",
    "empirical_bayes": "fieldsurvey.compare.shrinkage",
    "funnel_curves": "fieldsurvey.compare.funnel",
    "funnel_limits": "fieldsurvey.compare.funnel",
    "group_descriptives": "fieldsurvey.compare.groups",
    "independence_test": "fieldsurvey.compare.categorical",
    "lived_experience_lens": "fieldsurvey.compare.lived_experience",
    "omega_squared": "fieldsurvey.compare.groups",
    "organisation_icc": "fieldsurvey.compare.drivers",
    "organisation_trend": "fieldsurvey.compare.benchmark",
    "overdispersion": "fieldsurvey.compare.funnel",
    "random_intercept": "fieldsurvey.compare.drivers",
    "shrink_organisation_means": "fieldsurvey.compare.shrinkage",
    "standardise_role_mix": "fieldsurvey.compare.standardise",
    "structural_drivers": "fieldsurvey.compare.drivers",
    "survey_weights": "fieldsurvey.compare.standardise",
    "variance_shares": "fieldsurvey.compare.drivers",
    "weighted_differences": "fieldsurvey.compare.standardise",
    "weighted_means": "fieldsurvey.compare.standardise",
    "welch_two_groups": "fieldsurvey.compare.groups",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
