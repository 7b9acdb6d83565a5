-- trend (national), by calendar year. With $code: that code's procedures, share of
-- the cohort and rank each year. With $code NULL: the cohort's own volume each year
-- (share 100). `months` tells the reader when a year is only partly covered.
WITH by_code AS (
    SELECT year(month) AS year,
           hcpcs_code AS code,
           CAST(SUM(procedures) AS BIGINT) AS procedures,
           -- rollup_national has one row per cohort, month and code, so within a
           -- (year, code) group every row is a distinct month: COUNT(*) is
           -- COUNT(DISTINCT month) without the cost of a distinct aggregate.
           COUNT(*) AS months
    FROM rollup_national
    WHERE cohort = $cohort
      AND month BETWEEN $start AND $end
    GROUP BY year(month), hcpcs_code
),
ranked AS (
    SELECT year,
           code,
           procedures,
           months,
           ROW_NUMBER() OVER (PARTITION BY year ORDER BY procedures DESC, code) AS rank
    FROM by_code
)
SELECT year,
       CAST(COALESCE(SUM(procedures) FILTER (WHERE $code IS NULL OR code = $code), 0) AS BIGINT) AS procedures,
       CAST(SUM(procedures) AS BIGINT) AS cohort_procedures,
       100.0 * COALESCE(SUM(procedures) FILTER (WHERE $code IS NULL OR code = $code), 0)
             / SUM(procedures) AS share_pct,
       MAX(rank) FILTER (WHERE code = $code) AS rank,
       MAX(months) AS months
FROM ranked
GROUP BY year
ORDER BY year
