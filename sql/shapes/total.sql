-- Totals: the measure over the codes asked about (every code when none is), and over
-- the whole scope, per series (an amount: with the procedures that carry it, of each).
WITH scoped AS (
    {scope}
){totals_cte}
SELECT series,
       SUM(CASE WHEN {picked} THEN value ELSE 0 END) AS value{base_sum},
       {total} AS total
FROM scoped
{totals_join}
GROUP BY series
ORDER BY series
