-- Movers: each code's share of the scope in two periods (series 0 the earlier, 1 the
-- later) and the change in share points; rises and falls each ranked. A code needs
-- $min_volume in one of the two periods, so rare codes do not lead.
WITH scoped AS (
    {scope}
),
shares AS (
    SELECT series,
           code,
           value,
           100.0 * value / SUM(value) OVER (PARTITION BY series) AS share
    FROM scoped
),
paired AS (
    SELECT code,
           SUM(CASE WHEN series = 0 THEN value ELSE 0 END) AS value_before,
           SUM(CASE WHEN series = 1 THEN value ELSE 0 END) AS value_after,
           SUM(CASE WHEN series = 0 THEN share ELSE 0 END) AS share_before,
           SUM(CASE WHEN series = 1 THEN share ELSE 0 END) AS share_after
    FROM shares
    GROUP BY code
),
ranked AS (
    SELECT code,
           value_before,
           value_after,
           share_before,
           share_after,
           share_after - share_before AS change,
           ROW_NUMBER() OVER (ORDER BY share_after - share_before DESC, code) AS up_rank,
           ROW_NUMBER() OVER (ORDER BY share_after - share_before ASC, code) AS down_rank
    FROM paired
    WHERE (value_before >= $min_volume OR value_after >= $min_volume) AND {picked}
)
SELECT code, value_before, value_after, share_before, share_after, change, up_rank, down_rank
FROM ranked
WHERE {direction}
ORDER BY change DESC, code
