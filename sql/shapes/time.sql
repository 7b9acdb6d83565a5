-- A series over time (years, quarters or months): the measure of the codes asked
-- about (every code when none is) per period, the whole scope's measure in that period
-- as the denominator, and the rank of the asked code among all codes then.
WITH scoped AS (
    {scope}
){totals_cte},
ranked AS (
    SELECT series,
           year,
           part,
           code,
           value{base_window},
           {total} AS total,
           ROW_NUMBER() OVER (PARTITION BY {code_partition} ORDER BY value DESC, code) AS rank
    FROM scoped
    {totals_join}
)
SELECT {series_out} AS series,
       year,
       part,
       SUM(CASE WHEN {picked} THEN value ELSE 0 END) AS value{base_sum},
       MAX(total) AS total,
       MIN(CASE WHEN {picked} THEN rank END) AS rank
FROM ranked
{series_filter}
GROUP BY {series_out}, year, part
ORDER BY series, year, part
