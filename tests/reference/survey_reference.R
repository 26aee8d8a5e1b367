# Golden values for design-correct standard errors of survey-weighted means
# (fieldsurvey.compare.standardise: weighted_means with calibrated weights) from R survey.
#
# tests/data/weights_sample.csv: 149 synthetic respondents (fieldsurvey.synthetic, 8
# organisations, roles merged to three) with a ProQOL burnout score, 4 of them missing;
# tests/data/weights_staff.csv: made-up staff head counts per organisation x role.
# Weights are calibrated to the staff counts by post-stratification on organisation x role
# (postStratify, and calibrate with the cell dummies, which must agree) and by raking to the
# organisation and role totals (calibrate(calfun = "raking"), run to convergence). svymean and
# svyby then give the means and their linearisation standard errors, which account for the
# calibration (residuals of the calibration model), with respondents (ids = ~1) or
# organisations (ids = ~org) as the sampling units.
#
#   Rscript tests/reference/survey_reference.R      (from the repository root)
#
# Tested with R survey 4.1-1, jsonlite.
suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
d <- read.csv("tests/data/weights_sample.csv")
staff <- read.csv("tests/data/weights_staff.csv")
d$org <- factor(d$org)
d$wf_role <- factor(d$wf_role)
staff$org <- factor(staff$org, levels = levels(d$org))
staff$wf_role <- factor(staff$wf_role, levels = levels(d$wf_role))
cell_pop <- data.frame(org = staff$org, wf_role = staff$wf_role, Freq = staff$staff)
org_pop <- aggregate(Freq ~ org, cell_pop, sum)
role_pop <- aggregate(Freq ~ wf_role, cell_pop, sum)

designs <- function(ids) {
  base <- svydesign(ids = ids, probs = ~1, data = d)
  list(
    poststratify = postStratify(base, ~org + wf_role, cell_pop),
    poststratify_calibrate = calibrate(base, list(~org + wf_role), list(cell_pop)),
    rake = calibrate(base, list(~org, ~wf_role), list(org_pop, role_pop), calfun = "raking",
                     epsilon = 1e-12, maxit = 200)
  )
}
estimates <- function(des) {
  m <- svymean(~burnout, des, na.rm = TRUE)
  by_org <- svyby(~burnout, ~org, des, svymean, na.rm = TRUE)
  list(weights = unname(weights(des)), mean = unname(coef(m)), se = unname(SE(m)),
       by_org = list(org = as.character(by_org$org), mean = unname(by_org$burnout),
                     se = unname(SE(by_org))))
}
out <- list(survey_version = as.character(packageVersion("survey")),
            respondents = lapply(designs(~1), estimates),
            clustered = lapply(designs(~org), function(des) {
              m <- svymean(~burnout, des, na.rm = TRUE)
              list(mean = unname(coef(m)), se = unname(SE(m)))
            }))
# the same means with the weights treated as fixed (what was reported before)
fixed <- svydesign(ids = ~1, weights = weights(designs(~1)$poststratify), data = d)
out$fixed_weights_se <- unname(SE(svymean(~burnout, fixed, na.rm = TRUE)))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/survey_golden.json")
