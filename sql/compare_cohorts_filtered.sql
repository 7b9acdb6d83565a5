-- compare (cohorts) with a state and/or payer filter (rollup_month; NULL filter = any).
WITH by_code AS (
    SELECT cohort,
           hcpcs_code AS code,
           CAST(SUM(procedures) AS BIGINT) AS procedures
    FROM rollup_month
    WHERE list_contains($cohorts, cohort)
      AND month BETWEEN $start AND $end
      AND ($state IS NULL OR state = $state)
      AND ($payer IS NULL OR payer = $payer)
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
