# Golden values for the empirical-Bayes step (fieldsurvey.compare.shrinkage) from R metafor.
#
# tests/data/org_means.csv: organisation means (yi) of two ProQOL scales and their sampling
# variances (vi = pooled within-organisation variance / n) from the synthetic coalition
# (fieldsurvey.synthetic.generate_coalition(n_orgs=25, seed=7), as shrink_organisation_means
# computes them), plus eight made-up homogeneous units (tau^2 = 0 at the boundary).
# For each set: rma(yi, vi, method = "REML") and "DL": mu, its se, tau2, se of tau2, I2, H2,
# QE, QEp, and blup() (shrunken means and their se).
#
#   Rscript tests/reference/metafor_reference.R      (from the repository root)
#
# Tested with R metafor 3.8-1, jsonlite.
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})
d <- read.csv("tests/data/org_means.csv")
out <- list(metafor_version = as.character(packageVersion("metafor")), sets = list())
for (sc in unique(d$scale)) {
  x <- d[d$scale == sc, ]
  for (method in c("REML", "DL")) {
    fit <- rma(yi, vi, data = x, method = method)
    b <- blup(fit)
    out$sets[[paste(sc, method, sep = "_")]] <- list(
      scale = sc, method = tolower(method), org = x$org,
      mu = as.numeric(fit$b), se = fit$se, tau2 = fit$tau2, se_tau2 = fit$se.tau2,
      i2 = fit$I2, h2 = fit$H2, qe = fit$QE, qep = fit$QEp, k = fit$k,
      blup = b$pred, blup_se = b$se
    )
  }
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/metafor_golden.json")
