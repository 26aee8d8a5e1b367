# Golden values for exploratory factor analysis (tests/test_efa.py) from R psych.
#
# Data: tests/data/bfi.csv (the 25 items of psychTools::bfi as answered; see psych_reference.R),
# pairwise Pearson correlations (psych's default).
#   * psych::fa(x, nfactors = 5) with fm = "minres" and "ml", rotate = "oblimin" and "varimax":
#     loadings (psych's order and signs), communalities (h2), uniquenesses (u2), complexity,
#     the variance table (Vaccounted), factor correlations (Phi);
#   * a one-factor and a two-factor minres solution of the agreeableness + neuroticism items;
#   * psych::fa.parallel(x) (fa = "both", 20 iterations, 95% quantile): the observed eigenvalues
#     of the correlation matrix and of the reduced matrix, the mean simulated eigenvalues and
#     the numbers of factors and components it suggests (set.seed(1); the simulations are
#     random, so only the observed values are compared exactly).
#
#   Rscript tests/reference/psych_fa_reference.R      (from the repository root)
#
# Tested with R psych 2.2.9, GPArotation 2022.10-2, jsonlite.
suppressPackageStartupMessages({
  library(psych)
  library(GPArotation)
  library(jsonlite)
})
bfi <- read.csv("tests/data/bfi.csv", row.names = "id")
fa_block <- function(f) {
  list(loadings = unname(unclass(f$loadings)), factors = colnames(f$loadings),
       items = rownames(f$loadings), h2 = unname(f$communality), u2 = unname(f$uniquenesses),
       complexity = unname(f$complexity), vaccounted = unname(f$Vaccounted),
       vaccounted_rows = rownames(f$Vaccounted),
       phi = if (is.null(f$Phi)) NULL else unname(f$Phi),
       objective = f$objective, rms = f$rms)
}
out <- list(psych_version = as.character(packageVersion("psych")),
            gparotation_version = as.character(packageVersion("GPArotation")), fa = list())
for (fm in c("minres", "ml")) {
  for (rot in c("oblimin", "varimax")) {
    f <- suppressWarnings(suppressMessages(fa(bfi, nfactors = 5, fm = fm, rotate = rot)))
    out$fa[[paste(fm, rot, sep = "_")]] <- fa_block(f)
  }
}
an <- bfi[, c(paste0("A", 1:5), paste0("N", 1:5))]
out$fa$an_one <- fa_block(suppressMessages(fa(an, nfactors = 1)))
out$fa$an_two <- fa_block(suppressMessages(fa(an, nfactors = 2)))
set.seed(1)
pdf(NULL)
pa <- suppressWarnings(suppressMessages(fa.parallel(bfi, plot = FALSE)))
out$parallel <- list(fa_values = pa$fa.values, pc_values = pa$pc.values,
                     fa_sim = pa$fa.sim, pc_sim = pa$pc.sim, nfact = pa$nfact,
                     ncomp = pa$ncomp, n_iter = 20)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/psych_fa_golden.json")
