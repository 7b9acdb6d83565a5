-- compare (periods): one cohort's top N in several periods side by side. The periods
-- arrive as three parallel lists (label, first day, last day) and are unnested into
-- a small table; each period is ranked and shared within itself.
WITH periods AS (
    SELECT unnest($period_labels) AS period,
           unnest($period_starts) AS period_start,
           unnest($period_ends) AS period_end
),
by_code AS (
    SELECT p.period,
           r.hcpcs_code AS code,
           CAST(SUM(r.procedures) AS BIGINT) AS procedures
    FROM rollup_month AS r
    JOIN periods AS p ON r.month BETWEEN p.period_start AND p.period_end
    WHERE r.cohort = $cohort
      AND ($state IS NULL OR r.state = $state)
      AND ($payer IS NULL OR r.payer = $payer)
    GROUP BY p.period, r.hcpcs_code
),
ranked AS (
    SELECT period,
           code,
           procedures,
           CAST(SUM(procedures) OVER (PARTITION BY period) AS BIGINT) AS cohort_procedures,
           ROW_NUMBER() OVER (PARTITION BY period ORDER BY procedures DESC, code) AS rank
    FROM by_code
)
SELECT period,
       rank,
       code,
       procedures,
       100.0 * procedures / cohort_procedures AS share_pct,
       cohort_procedures
FROM ranked
WHERE rank <= $n
ORDER BY list_position($period_labels, period), rank
