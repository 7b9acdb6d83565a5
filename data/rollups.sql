-- Rollups rebuilt after every load (data.db.rebuild_rollups). Questions read these,
-- never claim_lines, so an answer scans thousands of rows, not millions.
--
-- `cohort` here holds the provider cohorts (ot, pt, slp, pmr, chiro, other) and two
-- derived ones materialised at build time so every question is one equality filter:
--   'rehab' = every procedure with a code in 97010-97799, whoever billed it
--   'all'   = every procedure
-- Rows are ordered by (cohort, month) so DuckDB's zone maps skip what a filter excludes.

CREATE OR REPLACE TABLE rollup_month AS
WITH base AS (
    SELECT cohort,
           CAST(date_trunc('month', service_date) AS DATE) AS month,
           state,
           payer,
           hcpcs_code,
           CAST(SUM(procedures) AS BIGINT) AS procedures
    FROM claim_lines
    GROUP BY ALL
)
SELECT cohort, month, state, payer, hcpcs_code, procedures FROM base
UNION ALL
SELECT 'rehab', month, state, payer, hcpcs_code, CAST(SUM(procedures) AS BIGINT)
FROM base
WHERE length(hcpcs_code) = 5 AND hcpcs_code BETWEEN '97010' AND '97799'
  AND regexp_full_match(hcpcs_code, '[0-9]{5}')
GROUP BY ALL
UNION ALL
SELECT 'all', month, state, payer, hcpcs_code, CAST(SUM(procedures) AS BIGINT)
FROM base
GROUP BY ALL
ORDER BY cohort, month, hcpcs_code, state, payer;

-- The same without state and payer: what most questions need, about 1/200th the rows.
CREATE OR REPLACE TABLE rollup_national AS
SELECT cohort, month, hcpcs_code, CAST(SUM(procedures) AS BIGINT) AS procedures
FROM rollup_month
GROUP BY ALL
ORDER BY cohort, month, hcpcs_code;
