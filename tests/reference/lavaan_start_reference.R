# Golden values for the start-value tests in tests/test_cfa.py.
#
# tests/data/mixed_keyed.csv: 300 synthetic respondents, 18 five-point items, three factors of
# six items each, where some items load negatively on their factor (reverse-keyed items left
# unreversed). Made once with numpy (seed 16: loadings uniform 0.3-0.8 with signs
# f1 + + + + - -, f2 + - + - + +, f3 - + + - + -, noise sd 0.8, answers round(3 + 1.2 x)
# clipped to 1..5). Start values that ignore the signs used to send loadings to 1e5.
#
#   cd tests/reference && Rscript lavaan_start_reference.R
#
# Needs: r-cran-lavaan (0.6-14 was used), r-cran-jsonlite.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

source("lavaan_blocks.R")
mixed <- read.csv(file.path("..", "data", "mixed_keyed.csv"))
model <- "f1 =~ y1 + y2 + y3 + y4 + y5 + y6
          f2 =~ y7 + y8 + y9 + y10 + y11 + y12
          f3 =~ y13 + y14 + y15 + y16 + y17 + y18"
out <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  model = model,
  single = fit_block(cfa(model, data = mixed))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, dataframe = "rows"),
           "lavaan_start_golden.json")
