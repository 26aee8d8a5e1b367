# Shared helpers of the lavaan reference scripts: the fit measures and parameter columns the
# Python tests compare (tests/golden.py reads them).
measures <- c("npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli",
              "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "srmr_bentler_nomean",
              "logl", "unrestricted.logl", "aic", "bic", "ntotal")

fit_block <- function(fit, fit_measures = measures) {
  fm <- fitMeasures(fit, fit_measures)
  pe <- parameterEstimates(fit, standardized = TRUE)
  keep <- c("lhs", "op", "rhs", "est", "se", "std.all")
  if ("group" %in% names(pe)) keep <- c(keep, "group")
  pe <- pe[pe$op %in% c("=~", "~~", "~1", "|", "~*~"), keep, drop = FALSE]
  names(pe)[names(pe) == "std.all"] <- "std_all"
  list(
    converged = lavInspect(fit, "converged"),
    fit = as.list(setNames(as.numeric(fm), names(fm))),
    params = pe
  )
}
