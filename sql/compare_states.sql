-- compare (states): one cohort's top N in several states side by side, each state
-- ranked and shared within itself (optional payer filter; NULL = any).
WITH by_code AS (
    SELECT state,
           hcpcs_code AS code,
           CAST(SUM(procedures) AS BIGINT) AS procedures
    FROM rollup_month
    WHERE cohort = $cohort
      AND list_contains($states, state)
      AND month BETWEEN $start AND $end
      AND ($payer IS NULL OR payer = $payer)
    GROUP BY state, hcpcs_code
),
ranked AS (
    SELECT state,
           code,
           procedures,
           CAST(SUM(procedures) OVER (PARTITION BY state) AS BIGINT) AS cohort_procedures,
           ROW_NUMBER() OVER (PARTITION BY state ORDER BY procedures DESC, code) AS rank
    FROM by_code
)
SELECT state,
       rank,
       code,
       procedures,
       100.0 * procedures / cohort_procedures AS share_pct,
       cohort_procedures
FROM ranked
WHERE rank <= $n
ORDER BY list_position($states, state), rank
