# Golden values for score tests of equality constraints (tests/test_partial.py) from R lavaan's
# lavTestScore(): the univariate test of releasing each cross-group equality and the total test.
#
#   * HolzingerSwineford1939 by school, scalar model (ML; tests/data/HolzingerSwineford1939.csv);
#   * the same with FIML (tests/data/HolzingerSwineford1939_missing.csv; lavaan's expected
#     information under the missing-data patterns);
#   * bfi agreeableness and neuroticism by gender, ordinal, the intercepts step of Wu &
#     Estabrook (2016) (semTools::measEq.syntax), WLSMV.
# Each constraint is written as the parameter it ties in the later group (lhs, op, rhs, group).
#
#   cd tests/reference && Rscript lavaan_score_reference.R
#
# Needs: r-cran-lavaan (0.6-14 was used), r-cran-semtools (0.5-6), r-cran-psych, jsonlite.
suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(jsonlite)
})

score_block <- function(fit) {
  st <- suppressWarnings(lavTestScore(fit))
  pt <- parTable(fit)
  by_label <- function(label) pt[pt$plabel == label, c("lhs", "op", "rhs", "group")][1, ]
  released <- do.call(rbind, lapply(st$uni$rhs, by_label))
  tied <- do.call(rbind, lapply(st$uni$lhs, by_label))
  list(total = list(X2 = st$test$X2, df = st$test$df, p = st$test$p.value),
       uni = data.frame(lhs = released$lhs, op = released$op, rhs = released$rhs,
                        group = released$group, tied_group = tied$group,
                        X2 = st$uni$X2, p = st$uni$p.value))
}

model <- "visual  =~ x1 + x2 + x3
          textual =~ x4 + x5 + x6
          speed   =~ x7 + x8 + x9"
hs <- read.csv(file.path("..", "data", "HolzingerSwineford1939.csv"))
hs_missing <- read.csv(file.path("..", "data", "HolzingerSwineford1939_missing.csv"))
equal <- c("loadings", "intercepts")
scalar <- cfa(model, data = hs, group = "school", group.equal = equal)
scalar_fiml <- suppressWarnings(cfa(model, data = hs_missing, group = "school",
                                    group.equal = equal, missing = "ml"))

bfi <- read.csv(file.path("..", "data", "bfi.csv"))
d <- merge(bfi, read.csv(file.path("..", "data", "bfi_demographics.csv")), by = "id",
           sort = FALSE)
ord_model <- "agree =~ A1 + A2 + A3 + A4 + A5
              neuro =~ N1 + N2 + N3 + N4 + N5"
items <- c(paste0("A", 1:5), paste0("N", 1:5))
syntax <- measEq.syntax(configural.model = ord_model, data = d, ordered = items,
                        parameterization = "delta", ID.fac = "std.lv",
                        ID.cat = "Wu.Estabrook.2016", group = "gender",
                        group.equal = c("thresholds", "loadings", "intercepts"))
ordinal <- suppressWarnings(cfa(as.character(syntax), data = d, ordered = items,
                                group = "gender"))

# The models the partial-invariance search ends with (tests/test_partial.py), fitted by lavaan:
# the scalar model with the intercepts of x3 and x7 released, and the ordinal intercepts step
# (pairwise) with N5's intercept released (measEq.syntax group.partial).
partial_scalar <- cfa(model, data = hs, group = "school", group.equal = equal,
                      group.partial = c("x3~1", "x7~1"))
syntax_partial <- measEq.syntax(configural.model = ord_model, data = d, ordered = items,
                                parameterization = "delta", ID.fac = "std.lv",
                                ID.cat = "Wu.Estabrook.2016", group = "gender",
                                group.equal = c("thresholds", "loadings", "intercepts"),
                                group.partial = "N5~1")
ordinal_partial <- suppressWarnings(cfa(as.character(syntax_partial), data = d, ordered = items,
                                        group = "gender", missing = "pairwise"))
source("lavaan_blocks.R")

out <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  model = model, ordinal_model = ord_model,
  scalar = score_block(scalar),
  scalar_fiml = score_block(scalar_fiml),
  ordinal_intercepts = score_block(ordinal),
  partial_scalar = list(group_partial = c("x3~1", "x7~1"), fit = fit_block(partial_scalar)),
  ordinal_partial = list(group_partial = "N5~1",
                         fit = fit_block(ordinal_partial,
                                         c("npar", "chisq", "df", "chisq.scaled", "cfi.scaled",
                                           "rmsea.scaled", "srmr")))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, dataframe = "rows"),
           "lavaan_score_golden.json")
