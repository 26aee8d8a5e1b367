# Golden values for ordinal CFA (tests/test_ordinal.py) from R lavaan and semTools.
#
# Data: tests/data/bfi.csv (25 six-point items of psychTools::bfi, see psych_reference.R) and
# tests/data/bfi_demographics.csv (gender, education, age of the same respondents, from
# psych::bfi, written by this script). Model: agreeableness and neuroticism, five items each,
# items as answered (A1 loads negatively).
#   * cfa(ordered = TRUE): polychoric correlations and thresholds, DWLS, robust SEs, the
#     mean- and variance-adjusted (scaled and shifted) test, with listwise deletion (lavaan's
#     default) and with missing = "pairwise";
#   * threshold invariance by gender with semTools::measEq.syntax(ID.cat =
#     "Wu.Estabrook.2016", ID.fac = "std.lv", parameterization = "delta"): configural,
#     thresholds, thresholds + loadings, thresholds + loadings + intercepts, with lavTestLRT
#     (Satorra 2000 scaled-and-shifted differences), listwise and pairwise;
#   * the sample statistics themselves: thresholds, polychoric correlations and the diagonal of
#     their asymptotic covariance matrix (NACOV).
#
#   cd tests/reference && Rscript lavaan_ordinal_reference.R
#
# Needs: r-cran-lavaan (0.6-14 was used), r-cran-semtools (0.5-6), r-cran-psych, jsonlite.
suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(jsonlite)
})
source("lavaan_blocks.R")

bfi <- read.csv(file.path("..", "data", "bfi.csv"))
demo <- psych::bfi[, c("gender", "education", "age")]
stopifnot(all(rownames(psych::bfi) == as.character(bfi$id)))
write.csv(data.frame(id = bfi$id, demo), file.path("..", "data", "bfi_demographics.csv"),
          row.names = FALSE, na = "")
d <- merge(bfi, read.csv(file.path("..", "data", "bfi_demographics.csv")), by = "id", sort = FALSE)
stopifnot(all(d$id == bfi$id))

model <- "agree =~ A1 + A2 + A3 + A4 + A5
          neuro =~ N1 + N2 + N3 + N4 + N5"
items <- c(paste0("A", 1:5), paste0("N", 1:5))
ordinal <- c("npar", "chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled",
             "chisq.scaling.factor", "baseline.chisq", "baseline.df", "baseline.chisq.scaled",
             "baseline.chisq.scaling.factor", "cfi", "tli", "cfi.scaled", "tli.scaled",
             "cfi.robust", "tli.robust", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
             "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled", "rmsea.robust",
             "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "srmr", "ntotal")
sample_block <- function(fit) {
  nacov <- lavInspect(fit, "gamma")
  if (!is.list(nacov) || is.matrix(nacov)) nacov <- list(nacov)
  th <- lavInspect(fit, "sampstat")
  if (!is.null(th$th)) th <- list(th)
  list(th = lapply(th, function(s) unname(as.numeric(s$th))),
       cor = lapply(th, function(s) unname(s$cov[lower.tri(s$cov)])),
       nacov_diag = lapply(nacov, function(m) unname(diag(m))),
       nobs = lavInspect(fit, "nobs"))
}
quiet <- function(expr) suppressWarnings(expr)

single <- quiet(cfa(model, data = d, ordered = items))
pairwise <- quiet(cfa(model, data = d, ordered = items, missing = "pairwise"))

steps <- list(configural = "", thresholds = "thresholds",
              loadings = c("thresholds", "loadings"),
              intercepts = c("thresholds", "loadings", "intercepts"))
invariance <- function(missing) {
  fits <- lapply(steps, function(eq) {
    syntax <- measEq.syntax(configural.model = model, data = d, ordered = items,
                            parameterization = "delta", ID.fac = "std.lv",
                            ID.cat = "Wu.Estabrook.2016", group = "gender", group.equal = eq)
    quiet(cfa(as.character(syntax), data = d, ordered = items, group = "gender",
              missing = missing))
  })
  lrt <- lapply(2:4, function(k) {
    t <- lavTestLRT(fits[[k - 1]], fits[[k]])
    list(from = names(steps)[k - 1], to = names(steps)[k], delta_chisq = t[2, "Chisq diff"],
         delta_df = t[2, "Df diff"], p = t[2, "Pr(>Chisq)"])
  })
  list(steps = lapply(fits, fit_block, fit_measures = ordinal), lrt = lrt,
       group_levels = lavInspect(fits$configural, "group.label"))
}

out <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  semtools_version = as.character(packageVersion("semTools")),
  model = model, items = items,
  single = c(fit_block(single, ordinal), list(sample = sample_block(single))),
  pairwise = c(fit_block(pairwise, ordinal), list(sample = sample_block(pairwise))),
  invariance_listwise = invariance("listwise"),
  invariance_pairwise = invariance("pairwise")
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, dataframe = "rows"),
           "lavaan_ordinal_golden.json")
