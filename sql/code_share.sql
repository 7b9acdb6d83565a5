-- code_share (national): one code's rank and share within the full ranking of its
-- cohort, plus the top rows for context. The asked code's row is kept even when it
-- ranks below the top N.
WITH by_code AS (
    SELECT hcpcs_code AS code,
           CAST(SUM(procedures) AS BIGINT) AS procedures
    FROM rollup_national
    WHERE cohort = $cohort
      AND month BETWEEN $start AND $end
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
