# Golden values for the multilevel tests of an analysis plan (fieldsurvey.reproduce.plan_multilevel):
# cross-level random-intercept models (R lme4::lmer, REML) with their cluster-robust (CR1)
# covariance, and organisation-level OLS with HC3 standard errors.
#
# tests/data/crosslevel_sample.csv: staff of 24 organisations of the synthetic coalition in its
# organisation-effects mode (generate_coalition(n_orgs=24, seed=19, icc=0.15,
# org_effects={"H6": 0.5, "H7": 0.4, "H8": 0.5}), one wave), with their ProQOL burnout and
# financial strain scores, tenure and role, and two organisation-level indicators from the
# organisation profiles (peer- or survivor-led; most staff paid below the living wage).
# tests/data/crosslevel_orgs.csv: one row per organisation: mean burnout, turnover (leavers /
# staff) and log(1 + training hours before the first case).
#
#   Rscript tests/reference/lme4_crosslevel_reference.R      (from the repository root)
#
# The CR1 sandwich is written out here (clubSandwich is not installed): with V_j = sigma2 I +
# tau2 11' at lme4's REML estimates, B = sum_j X_j' V_j^-1 X_j and u_j = X_j' V_j^-1 e_j,
# CR1 = G / (G - 1) B^-1 (sum_j u_j u_j') B^-1. HC3 likewise (sandwich is not installed):
# (X'X)^-1 X' diag(e_i^2 / (1 - h_i)^2) X (X'X)^-1.
#
# Tested with R lme4 1.1-31, jsonlite.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
z <- function(v) (v - mean(v)) / sqrt(mean((v - mean(v))^2))  # population SD, as fieldsurvey
d <- read.csv("tests/data/crosslevel_sample.csv")
d$org <- factor(d$org)
d$burnout_z <- z(d$burnout)
d$strain_z <- z(d$financial_strain)
d$tenure_z <- z(d$wf_tenure)
# The most common role is the reference level, as in the plan's designs.
d$role <- relevel(factor(d$wf_role), ref = names(which.max(table(d$wf_role))))

cr1 <- function(fit) {
  X <- getME(fit, "X")
  e <- as.numeric(d[[all.vars(formula(fit))[1]]] - X %*% fixef(fit))
  vc <- as.data.frame(VarCorr(fit))
  tau2 <- vc$vcov[vc$grp == "org"]
  sigma2 <- vc$vcov[vc$grp == "Residual"]
  bread <- 0
  meat <- 0
  for (g in levels(d$org)) {
    rows <- which(d$org == g)
    Vinv <- solve(sigma2 * diag(length(rows)) + tau2)
    Xg <- X[rows, , drop = FALSE]
    bread <- bread + t(Xg) %*% Vinv %*% Xg
    u <- t(Xg) %*% Vinv %*% e[rows]
    meat <- meat + u %*% t(u)
  }
  G <- nlevels(d$org)
  G / (G - 1) * solve(bread) %*% meat %*% solve(bread)
}
block <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  list(reml_criterion = REMLcrit(fit),
       tau2 = vc$vcov[vc$grp == "org"], sigma2 = vc$vcov[vc$grp == "Residual"],
       coef = unname(fixef(fit)), se = unname(sqrt(diag(as.matrix(vcov(fit))))),
       se_cr = unname(sqrt(diag(cr1(fit)))), n_orgs = nlevels(d$org))
}
ctrl <- lmerControl(optCtrl = list(ftol_abs = 1e-12, xtol_abs = 1e-12))

hc3 <- function(formula, data) {
  fit <- lm(formula, data)
  X <- model.matrix(fit)
  h <- hatvalues(fit)
  w <- residuals(fit)^2 / (1 - h)^2
  bread <- solve(crossprod(X))
  list(coef = unname(coef(fit)), se = unname(sqrt(diag(bread %*% t(X) %*% (X * w) %*% bread))),
       df = fit$df.residual)
}
o <- read.csv("tests/data/crosslevel_orgs.csv")
o$turnover_z <- z(o$org_turnover)
o$train_z <- z(o$org_log_train_hours)
o$burnout_z <- z(o$burnout)

out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  peer_led_burnout = block(lmer(burnout_z ~ org_peer_or_survivor_led + tenure_z + role +
                                  (1 | org), d, REML = TRUE, control = ctrl)),
  below_wage_strain = block(lmer(strain_z ~ org_below_living_wage + (1 | org), d, REML = TRUE,
                                 control = ctrl)),
  training_turnover = hc3(turnover_z ~ train_z, o),
  burnout_turnover = hc3(turnover_z ~ burnout_z, o)
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/lme4_crosslevel_golden.json")
