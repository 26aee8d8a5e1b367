# Golden values for psych statistics added in issue 16: psych::alpha's item statistics (raw.r,
# std.r, r.cor, r.drop) and psych::omega's omega total of items that load with mixed signs
# (flip = TRUE, the default, reverses them on the general factor).
#
# Data: tests/data/bfi.csv (psychTools::bfi items, see psych_reference.R for the source and
# licence). Keyed scales reverse the keyed-negative items as 7 - x, as psych_reference.R does;
# "raw" scales leave them unreversed.
#
#   Rscript tests/reference/psych_items_reference.R      (from the repository root)
#
# Tested with R psych 2.2.9, jsonlite.
suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})

bfi <- read.csv("tests/data/bfi.csv", row.names = "id")
keys <- list(
  agree = c("-A1", "A2", "A3", "A4", "A5"),
  conscientious = c("C1", "C2", "C3", "-C4", "-C5"),
  extraversion = c("-E1", "-E2", "E3", "E4", "E5"),
  neuroticism = c("N1", "N2", "N3", "N4", "N5"),
  openness = c("O1", "-O2", "O3", "O4", "-O5")
)
scale_items <- function(key, reverse = TRUE) {
  x <- bfi[, sub("-", "", key)]
  if (reverse) {
    for (k in key[startsWith(key, "-")]) x[[sub("-", "", k)]] <- 7 - x[[sub("-", "", k)]]
  }
  x
}
item_block <- function(x) {
  a <- suppressWarnings(psych::alpha(x, check.keys = FALSE, warnings = FALSE))
  s <- a$item.stats
  list(item = rownames(s), raw_r = unname(s$raw.r), std_r = unname(s$std.r),
       r_cor = unname(s$r.cor), r_drop = unname(s$r.drop), alpha = a$total$raw_alpha)
}

out <- list(
  meta = list(psych_version = as.character(packageVersion("psych")),
              data = "tests/data/bfi.csv; keyed = keyed-negative items reversed as 7 - x"),
  items_pairwise = list(), items_listwise = list(), items_raw = list(), omega_raw = list()
)
for (sc in names(keys)) {
  x <- scale_items(keys[[sc]])
  out$items_pairwise[[sc]] <- item_block(x)
  out$items_listwise[[sc]] <- item_block(na.omit(x))
  raw <- scale_items(keys[[sc]], reverse = FALSE)
  out$items_raw[[sc]] <- item_block(raw)
  om <- suppressWarnings(suppressMessages(
    psych::omega(raw, nfactors = 1, fm = "minres", plot = FALSE)))
  out$omega_raw[[sc]] <- list(omega_total = om$omega.tot, key = unname(om$key),
                              omega_total_unflipped = suppressWarnings(suppressMessages(
                                psych::omega(raw, nfactors = 1, fm = "minres", plot = FALSE,
                                             flip = FALSE)))$omega.tot)
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/psych_items_golden.json")
