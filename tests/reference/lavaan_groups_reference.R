# Golden values for the group-order tests in tests/test_invariance.py.
#
# lavaan orders groups by first appearance in the whole data, before rows with missing answers
# are dropped, and the first group is the reference (latent means 0). Here a Grant-White pupil
# with a missing x1 is moved to the top of HolzingerSwineford1939: the first group is Grant-White
# although the first complete row is a Pasteur pupil. The scalar model is fitted in lavaan's
# order and with group.label = c("Pasteur", "Grant-White") (a user-chosen reference group).
#
#   cd tests/reference && Rscript lavaan_groups_reference.R
#
# Needs: r-cran-lavaan (0.6-14 was used), r-cran-jsonlite.
suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})

source("lavaan_blocks.R")
hs <- read.csv(file.path("..", "data", "HolzingerSwineford1939.csv"))
first_gw <- which(hs$school == "Grant-White")[1]
moved <- rbind(hs[first_gw, ], hs[-first_gw, ])
moved$x1[1] <- NA
model <- "visual  =~ x1 + x2 + x3
          textual =~ x4 + x5 + x6
          speed   =~ x7 + x8 + x9"
equal <- c("loadings", "intercepts")
own_order <- cfa(model, data = moved, group = "school", group.equal = equal)
pasteur_first <- cfa(model, data = moved, group = "school", group.equal = equal,
                     group.label = c("Pasteur", "Grant-White"))
out <- list(
  lavaan_version = as.character(packageVersion("lavaan")),
  model = model,
  moved_row = first_gw,
  lavaan_order = list(group_levels = lavInspect(own_order, "group.label"),
                      fit = fit_block(own_order)),
  pasteur_first = list(group_levels = lavInspect(pasteur_first, "group.label"),
                       fit = fit_block(pasteur_first))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, dataframe = "rows"),
           "lavaan_groups_golden.json")
