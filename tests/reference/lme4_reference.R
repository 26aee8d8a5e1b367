# Golden values for the random-intercept model (fieldsurvey.compare.drivers.random_intercept)
# from R lme4: REML criterion (REMLcrit), ML deviance, variance components, fixed effects and
# their standard errors.
#
# tests/data/drivers_sample.csv: respondents of the synthetic coalition
# (fieldsurvey.synthetic.generate_coalition(n_orgs=15, seed=5)) with their organisation, ProQOL
# burnout and two structural-conditions scores, complete cases.
#
#   Rscript tests/reference/lme4_reference.R      (from the repository root)
#
# Tested with R lme4 1.1-31, jsonlite.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
d <- read.csv("tests/data/drivers_sample.csv")
block <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  list(reml_criterion = if (isREML(fit)) REMLcrit(fit) else NA,
       deviance = if (isREML(fit)) NA else deviance(fit),
       loglik = as.numeric(logLik(fit)),
       tau2 = vc$vcov[vc$grp == "org"], sigma2 = vc$vcov[vc$grp == "Residual"],
       coef = unname(fixef(fit)), se = unname(sqrt(diag(as.matrix(vcov(fit))))))
}
ctrl <- lmerControl(optCtrl = list(ftol_abs = 1e-12, xtol_abs = 1e-12))
out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  null_reml = block(lmer(burnout ~ 1 + (1 | org), d, REML = TRUE, control = ctrl)),
  null_ml = block(lmer(burnout ~ 1 + (1 | org), d, REML = FALSE, control = ctrl)),
  predictors_reml = block(lmer(burnout ~ workload + supervision + (1 | org), d, REML = TRUE,
                               control = ctrl)),
  predictors_ml = block(lmer(burnout ~ workload + supervision + (1 | org), d, REML = FALSE,
                             control = ctrl))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/lme4_golden.json")
