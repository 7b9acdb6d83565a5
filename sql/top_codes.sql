-- top_codes (national): the ranked codes of one cohort in one period.
-- Share is of ALL the cohort's procedures in the period, not of the top N, so the
-- window total is taken before the LIMIT. Ties are broken by code so ranks are stable.
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
       cohort_procedures
FROM ranked
WHERE rank <= $n
ORDER BY rank
