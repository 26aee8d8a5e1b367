# Golden values for the hand-off estimator (fieldsurvey.compare.continuity.handoff_estimates),
# computed independently in base R from the model in docs/continuity.md:
#   x = L + rho * K, N = S + n, rate = x / N, handoffs = c * M * rate,
#   rate interval: Jeffreys (qgamma(p, x + 1/2, rate = N); lower 0 when x = 0),
#   prediction of the coming year's count: c * qnbinom(p, size = x + 1/2, prob = N / (N + M)).
#
#   Rscript tests/reference/continuity_reference.R      (from the repository root)
#
# Tested with R 4.x, jsonlite.
suppressPackageStartupMessages(library(jsonlite))
orgs <- data.frame(
  org = c("A", "B", "C", "D", "E"),
  staff = c(20, 8, 40, 6, 12),
  leavers = c(4, 0, 11, 7, 0),          # D: more leavers than staff (posts refilled)
  case_managers = c(5, 2, 9, 2, 3),
  caseload = c(12, 15, 18.5, 25, 10),
  respondents = c(10, 6, 22, NA, 5),    # D: no survey answers (leavers only)
  intending = c(3, 1, 9, NA, 0)
)
one <- function(rho, level = 0.95) {
  a <- (1 - level) / 2
  surveyed <- !is.na(orgs$respondents)
  x <- orgs$leavers + ifelse(surveyed, rho * orgs$intending, 0)
  N <- orgs$staff + ifelse(surveyed, orgs$respondents, 0)
  scale <- orgs$case_managers * orgs$caseload
  rate <- x / N
  low <- ifelse(x > 0, qgamma(a, x + 0.5, rate = N), 0)
  high <- qgamma(1 - a, x + 0.5, rate = N)
  p <- N / (N + orgs$case_managers)
  data.frame(org = orgs$org, rate = rate, rate_ci_low = low, rate_ci_high = high,
             handoffs = scale * rate, handoffs_se = scale * sqrt(x) / N,
             handoffs_ci_low = scale * low, handoffs_ci_high = scale * high,
             handoffs_pi_low = orgs$caseload * qnbinom(a, size = x + 0.5, prob = p),
             handoffs_pi_high = orgs$caseload * qnbinom(1 - a, size = x + 0.5, prob = p))
}
out <- list(r_version = R.version.string, organisations = orgs,
            cases = list(list(realisation = 1, rows = one(1)),
                         list(realisation = 0.5, rows = one(0.5))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/reference/continuity_golden.json")
