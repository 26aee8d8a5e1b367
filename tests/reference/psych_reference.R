# Golden values for fieldsurvey's reliability statistics, computed with R psych.
#
# Data: the bfi data set (2,800 respondents, 25 Big Five personality items from the SAPA project,
# answered 1..6, with missing values) shipped in the R package psychTools (Revelle, W.;
# https://CRAN.R-project.org/package=psychTools, licence GPL (>= 2)). The bfi responses were
# collected by the public SAPA project (sapa-project.org) and are documented in ?psychTools::bfi.
# Scoring keys: psych's bfi.keys.  Keyed-negative items are reversed here with the declared
# bounds 1..6 (7 - x) and psych is called with check.keys = FALSE, so that both sides analyse
# identical numbers.
#
# Run from the repository root:   Rscript tests/reference/psych_reference.R
# Writes tests/data/bfi.csv (the 25 items, NA as empty) and tests/reference/psych_golden.json.
# Tested with R psych 2.2.9, psychTools 2.2.9, jsonlite.

suppressPackageStartupMessages({
  library(psych)
  library(psychTools)
  library(jsonlite)
})

items <- bfi[, 1:25]
write.csv(data.frame(id = rownames(items), items), "tests/data/bfi.csv",
          row.names = FALSE, na = "")

keys <- psychTools::bfi.keys
reverse_declared <- function(x, lo = 1, hi = 6) lo + hi - x

scale_items <- function(key) {
  names <- sub("-", "", key)
  x <- items[, names]
  for (k in key[startsWith(key, "-")]) {
    nm <- sub("-", "", k)
    x[[nm]] <- reverse_declared(x[[nm]])
  }
  x
}

alpha_block <- function(x) {
  a <- psych::alpha(x, check.keys = FALSE, warnings = FALSE)
  f <- a$feldt
  f90 <- psych::alpha.ci(a$total$raw_alpha, nrow(x), ncol(x), p.val = 0.10)
  list(
    n_rows = nrow(x),
    k = ncol(x),
    alpha = a$total$raw_alpha,
    alpha_std = a$total$std.alpha,
    g6 = a$total[["G6(smc)"]],
    average_r = a$total$average_r,
    median_r = a$total$median_r,
    feldt_95 = c(f$lower.ci[[1]], f$upper.ci[[1]]),
    feldt_90 = c(f90$lower.ci[[1]], f90$upper.ci[[1]]),
    items = list(
      item = rownames(a$item.stats),
      n = unname(a$item.stats$n),
      mean = unname(a$item.stats$mean),
      sd = unname(a$item.stats$sd),
      r_drop = unname(a$item.stats$r.drop),
      alpha_if_deleted = unname(a$alpha.drop$raw_alpha)
    )
  )
}

out <- list(
  meta = list(
    psych_version = as.character(packageVersion("psych")),
    psychTools_version = as.character(packageVersion("psychTools")),
    r_version = R.version.string,
    data = "psychTools::bfi items A1..O5, keys psychTools::bfi.keys, reversed as 7 - x"
  ),
  scales = list(),
  listwise = list(),
  omega_total = list(),
  polychoric = list()
)

for (sc in names(keys)) {
  x <- scale_items(keys[[sc]])
  out$scales[[sc]] <- alpha_block(x)
  out$listwise[[sc]] <- alpha_block(na.omit(x))
  om <- suppressWarnings(suppressMessages(
    psych::omega(x, nfactors = 1, fm = "minres", plot = FALSE)))
  out$omega_total[[sc]] <- om$omega.tot
}

for (sc in c("agree", "neuroticism")) {
  x <- scale_items(keys[[sc]])
  pc <- suppressWarnings(suppressMessages(psych::polychoric(x)))
  oa <- psych::alpha(pc$rho, check.keys = FALSE, warnings = FALSE)
  out$polychoric[[sc]] <- list(
    items = colnames(pc$rho),
    rho = unname(pc$rho),
    tau = unname(pc$tau),
    ordinal_alpha = oa$total$raw_alpha
  )
}

# Omega hierarchical (Schmid-Leiman, oblimin) for multidimensional item sets.
sets <- list(
  agree_conscientious = c("agree", "conscientious"),
  agree_conscientious_extraversion = c("agree", "conscientious", "extraversion"),
  all_five = names(keys)
)
out$omega_h <- list()
for (nm in names(sets)) {
  x <- do.call(cbind, lapply(sets[[nm]], function(sc) scale_items(keys[[sc]])))
  om <- suppressWarnings(suppressMessages(
    psych::omega(x, nfactors = length(sets[[nm]]), fm = "minres", plot = FALSE)))
  out$omega_h[[nm]] <- list(
    items = colnames(x), n_factors = length(sets[[nm]]),
    omega_h = om$omega_h, omega_total = om$omega.tot,
    g_loadings = unname(om$schmid$sl[, 1])
  )
}

# Items whose highest used answer differs make psych use per-pair thresholds (global = FALSE).
x <- scale_items(keys[["agree"]])
x$A2[x$A2 == 6] <- 5
pc <- suppressWarnings(suppressMessages(psych::polychoric(x)))
out$polychoric[["agree_A2_top_merged"]] <- list(items = colnames(pc$rho), rho = unname(pc$rho))

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/psych_golden.json")
