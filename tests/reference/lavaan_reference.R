# Golden values for tests/test_cfa.py and tests/test_invariance.py.
#
# Fits the Holzinger & Swineford (1939) three-factor model with R lavaan (public data shipped
# with lavaan), the measurement-invariance sequence by school, one partial-invariance model and
# one model with incomplete rows, and writes every number the Python tests compare into
# tests/reference/lavaan_golden.json. The tests never need R; rerun this script only to refresh
# the golden file:
#
#   cd tests/reference && Rscript lavaan_reference.R
#
# Needs: r-cran-lavaan (0.6-14 was used), r-cran-jsonlite.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

here <- function(...) file.path(getwd(), ...)
data_path <- here("..", "data", "HolzingerSwineford1939.csv")
hs <- lavaan::HolzingerSwineford1939
write.csv(hs, data_path, row.names = FALSE, na = "")
hs <- read.csv(data_path)  # fit what the Python tests read, byte for byte

model <- "visual  =~ x1 + x2 + x3
          textual =~ x4 + x5 + x6
          speed   =~ x7 + x8 + x9"

measures <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli",
              "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "srmr_bentler_nomean",
              "logl", "unrestricted.logl", "aic", "bic", "ntotal")

fit_block <- function(fit) {
  fm <- fitMeasures(fit, measures)
  pe <- parameterEstimates(fit, standardized = TRUE)
  keep <- c("lhs", "op", "rhs", "est", "se", "std.all")
  if ("group" %in% names(pe)) keep <- c(keep, "group")
  pe <- pe[pe$op %in% c("=~", "~~", "~1"), keep, drop = FALSE]
  names(pe)[names(pe) == "std.all"] <- "std_all"
  list(
    converged = lavInspect(fit, "converged"),
    fit = as.list(setNames(as.numeric(fm), names(fm))),
    params = pe
  )
}

out <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  model = model,
  data = "tests/data/HolzingerSwineford1939.csv",
  measures = measures
)

# Single group, lavaan defaults: ML, marker variable, expected information, listwise.
single <- cfa(model, data = hs)
out$single <- fit_block(single)

# Incomplete rows: listwise deletion (lavaan's default missing = "listwise").
hs_na <- hs
hs_na$x1[c(1, 2, 3)] <- NA
hs_na$x5[10] <- NA
hs_na$x9[c(20, 3)] <- NA
out$listwise <- c(
  list(missing_cells = list(x1 = c(1, 2, 3), x5 = 10, x9 = c(20, 3))),
  fit_block(cfa(model, data = hs_na))
)

# Measurement invariance by school (multi-group, mean structure implied by group=).
steps <- list(
  configural = cfa(model, data = hs, group = "school"),
  metric = cfa(model, data = hs, group = "school", group.equal = "loadings"),
  scalar = cfa(model, data = hs, group = "school", group.equal = c("loadings", "intercepts")),
  strict = cfa(model, data = hs, group = "school",
               group.equal = c("loadings", "intercepts", "residuals"))
)
out$group_levels <- lavInspect(steps$configural, "group.label")
out$invariance <- lapply(steps, fit_block)

# Partial invariance: the same group.partial applied at the metric and the scalar step.
partial_spec <- c("visual=~x2", "x3~1", "x7~1")
partial_metric <- cfa(model, data = hs, group = "school", group.equal = "loadings",
                      group.partial = partial_spec)
partial <- cfa(model, data = hs, group = "school", group.equal = c("loadings", "intercepts"),
               group.partial = partial_spec)
out$partial_metric <- c(list(group_partial = partial_spec), fit_block(partial_metric))
out$partial <- c(list(group_partial = partial_spec), fit_block(partial))

# A cross-loading and a residual covariance: single group, and by grade (an empirically
# near-unidentified model: huge standard errors, negative residual variance in grade 8).
model_cross <- "visual  =~ x1 + x2 + x3 + x9
                textual =~ x4 + x5 + x6
                speed   =~ x7 + x8 + x9
                x7 ~~ x8"
out$cross <- c(list(model = model_cross), fit_block(cfa(model_cross, data = hs)))
by_grade <- suppressWarnings(cfa(model_cross, data = hs, group = "grade"))
out$cross_by_grade <- list(model = model_cross, group = "grade",
                           fit = fit_block(by_grade)$fit)

lrt_row <- function(a, b, from, to) {
  t <- lavTestLRT(a, b)
  list(from = from, to = to, delta_chisq = t[2, "Chisq diff"], delta_df = t[2, "Df diff"],
       p = t[2, "Pr(>Chisq)"])
}
out$lrt <- list(
  lrt_row(steps$configural, steps$metric, "configural", "metric"),
  lrt_row(steps$metric, steps$scalar, "metric", "scalar"),
  lrt_row(steps$scalar, steps$strict, "scalar", "strict"),
  lrt_row(steps$configural, partial_metric, "configural", "partial_metric"),
  lrt_row(partial_metric, partial, "partial_metric", "partial_scalar")
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, dataframe = "rows"),
           here("lavaan_golden.json"))
cat("wrote", here("lavaan_golden.json"), "\n")
