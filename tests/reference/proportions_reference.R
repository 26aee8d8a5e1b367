# Golden values for fieldsurvey.compare.proportions and the report's Welch and correlation
# intervals (analyse/report_benchmarking.py). Run: Rscript tests/reference/proportions_reference.R
# Wilson: prop.test(correct = FALSE); the pooled z test: prop.test(c(k1, k2), c(n1, n2),
# correct = FALSE); Newcombe's hybrid score interval (method 10) from R's Wilson limits.
cases <- list(c(56, 70, 48, 80), c(7, 20, 15, 22), c(0, 12, 5, 30), c(12, 12, 20, 25),
              c(3, 11, 9, 10))
wilson <- function(k, n) as.numeric(prop.test(k, n, correct = FALSE)$conf.int)
out <- lapply(cases, function(x) {
  w1 <- wilson(x[1], x[2]); w2 <- wilson(x[3], x[4])
  p1 <- x[1] / x[2]; p2 <- x[3] / x[4]; d <- p1 - p2
  list(k1 = x[1], n1 = x[2], k2 = x[3], n2 = x[4], wilson1 = w1, wilson2 = w2,
       diff = d, low = d - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2),
       high = d + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2),
       p = suppressWarnings(prop.test(c(x[1], x[3]), c(x[2], x[4]), correct = FALSE)$p.value))
})
set.seed(18)
a <- round(rnorm(15, 3, 0.8), 2); b <- round(rnorm(40, 3.4, 0.7), 2)
w <- t.test(a, b)
x <- round(rnorm(60), 3); y <- round(0.4 * x + rnorm(60), 3)
r <- cor.test(x, y)
golden <- list(proportions = out,
               welch = list(a = a, b = b, diff = unname(w$estimate[1] - w$estimate[2]),
                            low = w$conf.int[1], high = w$conf.int[2], p = w$p.value),
               correlation = list(x = x, y = y, r = unname(r$estimate), low = r$conf.int[1],
                                  high = r$conf.int[2]))
jsonlite::write_json(golden, "tests/reference/proportions_golden.json", digits = NA,
                     auto_unbox = TRUE, pretty = TRUE)
