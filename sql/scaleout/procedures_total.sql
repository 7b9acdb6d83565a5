-- coverage: every procedure the rollups hold (the 'all' cohort), for the coverage line.
SELECT CAST(coalesce(SUM(procedures), 0) AS BIGINT) AS procedures
FROM rollup_national
WHERE cohort = 'all'
