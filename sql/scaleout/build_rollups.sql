-- The rollups built inside a warehouse (sql/warehouse.py), from the view toprank_lines:
-- the user's claim-lines table with its columns mapped and its invalid rows left out.
-- The same tables and figures as data/rollups.sql builds in DuckDB, in SQL every engine
-- runs (written in DuckDB's dialect, rendered per engine by sql.dialects): GROUP BY
-- ordinals instead of GROUP BY ALL, exact COUNT(DISTINCT claim_id) instead of a hash,
-- one statement per table. Each table is built under a toprank_build_ name; the build
-- swaps them in only when every table is built and checked.
-- Statements are separated by ';' at a line's end.

CREATE TABLE toprank_build_rollup_detail AS
SELECT cohort,
       CAST(date_trunc('month', service_date) AS DATE) AS month,
       state,
       payer,
       coalesce(place_of_service, '') AS place_of_service,
       coalesce(facility_setting, '') AS facility_setting,
       coalesce(modifiers, '') AS modifiers,
       hcpcs_code,
       CAST(SUM(procedures) AS BIGINT) AS procedures,
       CAST(coalesce(SUM(units), 0) AS BIGINT) AS units,
       CAST(SUM(payments_cents) AS BIGINT) AS payments_cents,
       CAST(SUM(allowed_cents) AS BIGINT) AS allowed_cents,
       CAST(SUM(charges_cents) AS BIGINT) AS charges_cents,
       CAST(SUM(beneficiaries) AS BIGINT) AS beneficiaries,
       CAST(coalesce(SUM(CASE WHEN payments_cents IS NOT NULL THEN procedures END), 0) AS BIGINT)
           AS payments_procedures,
       CAST(coalesce(SUM(CASE WHEN allowed_cents IS NOT NULL THEN procedures END), 0) AS BIGINT)
           AS allowed_procedures,
       CAST(coalesce(SUM(CASE WHEN charges_cents IS NOT NULL THEN procedures END), 0) AS BIGINT)
           AS charges_procedures,
       CAST(coalesce(SUM(CASE WHEN beneficiaries IS NOT NULL THEN procedures END), 0) AS BIGINT)
           AS beneficiaries_procedures
FROM toprank_lines
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- Provider cohorts by month, state, payer and code: read twice below, so it is a table
-- (a CTE would be computed once per reader on Spark).
CREATE TABLE toprank_build_month_base AS
SELECT cohort,
       CAST(date_trunc('month', service_date) AS DATE) AS month,
       state,
       payer,
       hcpcs_code,
       CAST(SUM(procedures) AS BIGINT) AS procedures,
       CAST(coalesce(SUM(units), 0) AS BIGINT) AS units,
       CAST(COUNT(DISTINCT claim_id) AS BIGINT) AS claims,
       CAST(SUM(payments_cents) AS BIGINT) AS payments_cents,
       CAST(SUM(allowed_cents) AS BIGINT) AS allowed_cents,
       CAST(SUM(charges_cents) AS BIGINT) AS charges_cents,
       CAST(SUM(beneficiaries) AS BIGINT) AS beneficiaries,
       CAST(coalesce(SUM(CASE WHEN payments_cents IS NOT NULL THEN procedures END), 0) AS BIGINT)
           AS payments_procedures,
       CAST(coalesce(SUM(CASE WHEN allowed_cents IS NOT NULL THEN procedures END), 0) AS BIGINT)
           AS allowed_procedures,
       CAST(coalesce(SUM(CASE WHEN charges_cents IS NOT NULL THEN procedures END), 0) AS BIGINT)
           AS charges_procedures,
       CAST(coalesce(SUM(CASE WHEN beneficiaries IS NOT NULL THEN procedures END), 0) AS BIGINT)
           AS beneficiaries_procedures
FROM toprank_lines
GROUP BY 1, 2, 3, 4, 5;

CREATE TABLE toprank_build_rollup_month AS
SELECT cohort, month, state, payer, hcpcs_code, procedures, units, claims,
       payments_cents, allowed_cents, charges_cents, beneficiaries, payments_procedures,
       allowed_procedures, charges_procedures, beneficiaries_procedures
FROM toprank_build_month_base
UNION ALL
SELECT 'rehab' AS cohort, month, state, payer, hcpcs_code,
       CAST(SUM(procedures) AS BIGINT), CAST(SUM(units) AS BIGINT), CAST(SUM(claims) AS BIGINT),
       CAST(SUM(payments_cents) AS BIGINT), CAST(SUM(allowed_cents) AS BIGINT),
       CAST(SUM(charges_cents) AS BIGINT), CAST(SUM(beneficiaries) AS BIGINT),
       CAST(SUM(payments_procedures) AS BIGINT), CAST(SUM(allowed_procedures) AS BIGINT),
       CAST(SUM(charges_procedures) AS BIGINT), CAST(SUM(beneficiaries_procedures) AS BIGINT)
FROM toprank_build_month_base
WHERE length(hcpcs_code) = 5 AND hcpcs_code BETWEEN '97010' AND '97799'
  AND regexp_matches(hcpcs_code, '^[0-9]{5}$')
GROUP BY 1, 2, 3, 4, 5
UNION ALL
SELECT 'all' AS cohort, month, state, payer, hcpcs_code,
       CAST(SUM(procedures) AS BIGINT), CAST(SUM(units) AS BIGINT), CAST(SUM(claims) AS BIGINT),
       CAST(SUM(payments_cents) AS BIGINT), CAST(SUM(allowed_cents) AS BIGINT),
       CAST(SUM(charges_cents) AS BIGINT), CAST(SUM(beneficiaries) AS BIGINT),
       CAST(SUM(payments_procedures) AS BIGINT), CAST(SUM(allowed_procedures) AS BIGINT),
       CAST(SUM(charges_procedures) AS BIGINT), CAST(SUM(beneficiaries_procedures) AS BIGINT)
FROM toprank_build_month_base
GROUP BY 1, 2, 3, 4, 5;

CREATE TABLE toprank_build_rollup_national AS
SELECT cohort, month, hcpcs_code,
       CAST(SUM(procedures) AS BIGINT) AS procedures,
       CAST(SUM(units) AS BIGINT) AS units,
       CAST(SUM(claims) AS BIGINT) AS claims,
       CAST(SUM(payments_cents) AS BIGINT) AS payments_cents,
       CAST(SUM(allowed_cents) AS BIGINT) AS allowed_cents,
       CAST(SUM(charges_cents) AS BIGINT) AS charges_cents,
       CAST(SUM(beneficiaries) AS BIGINT) AS beneficiaries,
       CAST(SUM(payments_procedures) AS BIGINT) AS payments_procedures,
       CAST(SUM(allowed_procedures) AS BIGINT) AS allowed_procedures,
       CAST(SUM(charges_procedures) AS BIGINT) AS charges_procedures,
       CAST(SUM(beneficiaries_procedures) AS BIGINT) AS beneficiaries_procedures
FROM toprank_build_rollup_month
GROUP BY 1, 2, 3;

-- One row per claim and provider cohort, month, state, payer and place, with whether
-- it holds a rehab line.
CREATE TABLE toprank_build_per_claim AS
SELECT claim_id,
       cohort,
       CAST(date_trunc('month', service_date) AS DATE) AS month,
       state,
       payer,
       coalesce(place_of_service, '') AS place_of_service,
       MAX(CASE WHEN length(hcpcs_code) = 5 AND hcpcs_code BETWEEN '97010' AND '97799'
                     AND regexp_matches(hcpcs_code, '^[0-9]{5}$') THEN 1 ELSE 0 END) AS rehab
FROM toprank_lines
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TABLE toprank_build_rollup_claims AS
SELECT cohort, month, state, payer, place_of_service, CAST(COUNT(*) AS BIGINT) AS claims
FROM toprank_build_per_claim
GROUP BY 1, 2, 3, 4, 5
UNION ALL
SELECT 'rehab' AS cohort, month, state, payer, place_of_service, CAST(SUM(rehab) AS BIGINT)
FROM toprank_build_per_claim
GROUP BY 1, 2, 3, 4, 5
HAVING SUM(rehab) > 0
UNION ALL
SELECT 'all' AS cohort, month, state, payer, place_of_service, CAST(COUNT(*) AS BIGINT)
FROM toprank_build_per_claim
GROUP BY 1, 2, 3, 4, 5;

CREATE TABLE toprank_build_sources (
    source_id     INTEGER,
    name          VARCHAR,
    kind          VARCHAR,
    fingerprint   VARCHAR,
    rows_read     BIGINT,
    rows_loaded   BIGINT,
    rows_rejected BIGINT,
    first_date    DATE,
    last_date     DATE,
    loaded_at     TIMESTAMP
);
