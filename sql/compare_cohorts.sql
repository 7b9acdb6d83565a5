-- compare (cohorts, national): the top N of several cohorts side by side, in one
-- query. Each cohort is ranked and shared within itself; rows come back in the order
-- the cohorts were asked.
WITH by_code AS (
    SELECT cohort,
           hcpcs_code AS code,
           CAST(SUM(procedures) AS BIGINT) AS procedures
    FROM rollup_national
    WHERE list_contains($cohorts, cohort)
      AND month BETWEEN $start AND $end
    GROUP BY cohort, hcpcs_code
),
ranked AS (
    SELECT cohort,
           code,
           procedures,
           CAST(SUM(procedures) OVER (PARTITION BY cohort) AS BIGINT) AS cohort_procedures,
           ROW_NUMBER() OVER (PARTITION BY cohort ORDER BY procedures DESC, code) AS rank
    FROM by_code
)
SELECT cohort,
       rank,
       code,
       procedures,
       100.0 * procedures / cohort_procedures AS share_pct,
       cohort_procedures
FROM ranked
WHERE rank <= $n
ORDER BY list_position($cohorts, cohort), rank
