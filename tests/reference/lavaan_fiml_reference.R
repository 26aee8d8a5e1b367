# Golden values for full-information ML (tests/test_fiml.py) from R lavaan.
#
# tests/data/HolzingerSwineford1939_missing.csv is HolzingerSwineford1939 (see
# lavaan_reference.R) with answers deleted: each of x1..x9 missing completely at random with
# probability 0.08, x3 also missing for a third of the pupils with x1 above its median (missing
# at random), and all nine missing for two pupils (empty rows, which lavaan ignores).
# Fits with missing = "ml" (FIML; EM for the saturated model):
#   * estimator ML (standard SEs from the observed information) and MLR (Huber-White SEs,
#     Yuan-Bentler (Mplus variant) scaled chi-square, robust CFI/TLI/RMSEA), single group;
#   * MLR by school: configural, metric, scalar, strict, with lavTestLRT (Satorra-Bentler
#     2001 scaled differences);
#   * MLR on complete data (listwise): the same robust machinery without FIML.
#
#   cd tests/reference && Rscript lavaan_fiml_reference.R
#
# Needs: r-cran-lavaan (0.6-14 was used), r-cran-jsonlite.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
source("lavaan_blocks.R")

hs <- read.csv(file.path("..", "data", "HolzingerSwineford1939.csv"))
set.seed(20260406)
x <- paste0("x", 1:9)
for (v in x) hs[[v]][runif(nrow(hs)) < 0.08] <- NA
high <- which(!is.na(hs$x1) & hs$x1 > median(hs$x1, na.rm = TRUE))
hs$x3[high[runif(length(high)) < 1 / 3]] <- NA
hs[c(17, 205), x] <- NA
write.csv(hs, file.path("..", "data", "HolzingerSwineford1939_missing.csv"), row.names = FALSE,
          na = "")
hs <- read.csv(file.path("..", "data", "HolzingerSwineford1939_missing.csv"))

model <- "visual  =~ x1 + x2 + x3
          textual =~ x4 + x5 + x6
          speed   =~ x7 + x8 + x9"

robust <- c(measures, "chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
            "baseline.chisq.scaled", "baseline.chisq.scaling.factor", "cfi.scaled",
            "tli.scaled", "cfi.robust", "tli.robust", "rmsea.scaled", "rmsea.ci.lower.scaled",
            "rmsea.ci.upper.scaled", "rmsea.robust", "rmsea.ci.lower.robust",
            "rmsea.ci.upper.robust")
fiml_ml <- c(measures, "cfi.robust", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust",
             "rmsea.ci.upper.robust")
quiet <- function(expr) suppressWarnings(expr)

steps <- list(
  configural = "",
  metric = "loadings",
  scalar = c("loadings", "intercepts"),
  strict = c("loadings", "intercepts", "residuals")
)
by_school <- lapply(steps, function(eq) quiet(cfa(model, data = hs, group = "school",
                                                  missing = "ml", estimator = "MLR",
                                                  group.equal = eq)))
lrt_row <- function(a, b, from, to) {
  t <- lavTestLRT(a, b)
  list(from = from, to = to, delta_chisq = t[2, "Chisq diff"], delta_df = t[2, "Df diff"],
       p = t[2, "Pr(>Chisq)"])
}
out <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  model = model,
  data = "tests/data/HolzingerSwineford1939_missing.csv",
  fiml_ml = fit_block(quiet(cfa(model, data = hs, missing = "ml")), fiml_ml),
  fiml_mlr = fit_block(quiet(cfa(model, data = hs, missing = "ml", estimator = "MLR")), robust),
  listwise_mlr = fit_block(quiet(cfa(model, data = hs, estimator = "MLR")), robust),
  group_levels = lavInspect(by_school$configural, "group.label"),
  invariance_mlr = lapply(by_school, fit_block, fit_measures = robust),
  lrt_mlr = list(
    lrt_row(by_school$configural, by_school$metric, "configural", "metric"),
    lrt_row(by_school$metric, by_school$scalar, "metric", "scalar"),
    lrt_row(by_school$scalar, by_school$strict, "scalar", "strict")
  )
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, dataframe = "rows"),
           "lavaan_fiml_golden.json")
