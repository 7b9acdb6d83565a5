-- top_codes with a state and/or payer filter: the same ranking over rollup_month.
-- A NULL filter parameter means "any" (the planner binds NULL, never text).
WITH by_code AS (
    SELECT hcpcs_code AS code,
           CAST(SUM(procedures) AS BIGINT) AS procedures
    FROM rollup_month
    WHERE cohort = $cohort
      AND month BETWEEN $start AND $end
      AND ($state IS NULL OR state = $state)
      AND ($payer IS NULL OR payer = $payer)
    GROUP BY hcpcs_code
),
ranked AS (
    SELECT code,
           procedures,
           CAST(SUM(procedures) OVER () AS BIGINT) AS cohort_procedures,
           ROW_NUMBER() OVER (ORDER BY procedures DESC, code) AS rank
    FROM by_code
)
SELECT rank,
       code,
       procedures,
       100.0 * procedures / cohort_procedures AS share_pct,
       cohort_procedures
FROM ranked
WHERE rank <= $n
ORDER BY rank
