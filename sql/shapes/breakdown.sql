-- A breakdown by one dimension (state, payer, specialty, place of service): the
-- measure per group, ranked, with each group's share of the series' total (the total
-- of what was picked, codes included).
WITH grouped AS (
    {scope}
),
ranked AS (
    SELECT series,
           grp,
           value{base_window},
           SUM(value) OVER (PARTITION BY series) AS total,
           ROW_NUMBER() OVER (PARTITION BY series ORDER BY value DESC, grp) AS rank
    FROM grouped
)
SELECT series, grp, value{base_kept}, total, rank
FROM ranked
WHERE rank <= $n
ORDER BY series, rank
