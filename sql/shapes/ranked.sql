-- Ranked codes: each series' codes ranked by the measure, with the share of the whole
-- scope. The denominator (total) is taken over every code before any code is picked
-- or left out, so "top rehab codes without 97140" keeps shares of all rehab
-- procedures. An amount brings `base`, the procedures that carry it, and base_total, the
-- scope's. cohort_rank is the rank among every code; rank the rank among the codes
-- picked (the same when none are). Rows past $n are kept when they are asked about.
WITH scoped AS (
    {scope}
){totals_cte},
ranked AS (
    SELECT series,
           code,
           value{base_window},
           {total} AS total,
           ROW_NUMBER() OVER (PARTITION BY series ORDER BY value DESC, code) AS cohort_rank
    FROM scoped
    {totals_join}
),
picked AS (
    SELECT series,
           code,
           value{base_kept},
           total,
           cohort_rank,
           ROW_NUMBER() OVER (PARTITION BY series ORDER BY value DESC, code) AS rank,
           SUM(value) OVER (PARTITION BY series) AS selected
    FROM ranked
    WHERE {picked}
)
SELECT series, code, value{base_kept}, total, cohort_rank, rank, selected
FROM picked
WHERE rank <= $n OR {keep}
ORDER BY series, rank
