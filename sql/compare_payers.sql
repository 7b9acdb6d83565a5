-- compare (payers): one cohort's top N for several payers side by side, each payer
-- ranked and shared within itself (optional state filter; NULL = any).
WITH by_code AS (
    SELECT payer,
           hcpcs_code AS code,
           CAST(SUM(procedures) AS BIGINT) AS procedures
    FROM rollup_month
    WHERE cohort = $cohort
      AND list_contains($payers, payer)
      AND month BETWEEN $start AND $end
      AND ($state IS NULL OR state = $state)
    GROUP BY payer, hcpcs_code
),
ranked AS (
    SELECT payer,
           code,
           procedures,
           CAST(SUM(procedures) OVER (PARTITION BY payer) AS BIGINT) AS cohort_procedures,
           ROW_NUMBER() OVER (PARTITION BY payer ORDER BY procedures DESC, code) AS rank
    FROM by_code
)
SELECT payer,
       rank,
       code,
       procedures,
       100.0 * procedures / cohort_procedures AS share_pct,
       cohort_procedures
FROM ranked
WHERE rank <= $n
ORDER BY list_position($payers, payer), rank
