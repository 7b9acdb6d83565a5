-- code_share with a state and/or payer filter (rollup_month; NULL filter = any).
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
       cohort_procedures,
       code = $code AS is_asked
FROM ranked
WHERE rank <= $n OR code = $code
ORDER BY rank
