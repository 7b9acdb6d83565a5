-- code_lookup context: where one code stands (rank, share) in each of a few cohorts
-- in a period, so "what is 97530" can add "3rd in OT in 2023".
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
WHERE code = $code
ORDER BY list_position($cohorts, cohort)
