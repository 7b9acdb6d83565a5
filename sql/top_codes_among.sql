-- top_codes among a set of codes ("the most common OT evaluation code", "top modality
-- codes in PT"): the set's codes ranked against each other, each with its share of ALL
-- the cohort's procedures in the period and its rank in the cohort's full list, plus
-- the whole set's procedures ("what share of PT is evaluations").
-- $codes is a list the planner takes from data/ (a sub-group or a code family), never
-- user text; NULL state/payer filters mean "any".
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
           ROW_NUMBER() OVER (ORDER BY procedures DESC, code) AS cohort_rank
    FROM by_code
),
listed AS (
    SELECT *,
           ROW_NUMBER() OVER (ORDER BY procedures DESC, code) AS rank,
           CAST(SUM(procedures) OVER () AS BIGINT) AS set_procedures
    FROM ranked
    WHERE list_contains($codes, code)
)
SELECT rank,
       code,
       procedures,
       100.0 * procedures / cohort_procedures AS share_pct,
       cohort_procedures,
       cohort_rank,
       set_procedures
FROM listed
WHERE rank <= $n
ORDER BY rank
