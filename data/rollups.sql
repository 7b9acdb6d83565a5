-- Rollups rebuilt after every load (data.db.rebuild_rollups). Questions read these,
-- never claim_lines, so an answer scans thousands of rows, not millions. The compiler
-- (sql/compile.py) picks the smallest rollup that has every column a question needs;
-- sql/rollups.py describes them and must stay in step with this file.
-- sql/scaleout/build_rollups.sql builds the same tables inside a warehouse (PostgreSQL,
-- Spark): change both together (tests/test_parity.py compares their rows).
--
-- `cohort` holds the provider cohorts (ot, pt, slp, pmr, chiro, other) and, in every
-- table but rollup_detail, two more materialised at build time so a question about
-- them is one equality filter:
--   'rehab' = every procedure with a code in 97010-97799, whoever billed it
--   'all'   = every procedure
--
-- Measures: procedures (lines, or Tot_Srvcs for a CMS file row), units, and claims
-- (distinct claim_id; not by modifier: each claim's set of modifiers costs too much to
-- keep for how rarely it is asked). Claims do not add up over codes (a claim bills several), so the
-- code rollups count the claims that hold each code, and rollup_claims counts the
-- claims of a scope with no code split. A claim counts once in each month, state,
-- payer, place of service and provider cohort it has lines in; rows without a
-- claim_id (CMS files) count no claims. Distinct claims are counted on a 64-bit hash
-- of the id: cheaper than the strings, and a collision among a billion ids has odds
-- of about 1 in 30 million.

-- Money and people: payments_cents, allowed_cents, charges_cents (sums of whole cents,
-- exact and equal on every engine; NULL where no line of the group has the amount) and
-- beneficiaries (summed per provider row: a person counts once per provider), each with
-- <amount>_procedures, the procedures of the lines that carry it: an average is the
-- amount over those (a ratio of sums), and a source without the amount counts in none.

-- Every dimension a question can filter on, provider cohorts only (the compiler turns
-- 'rehab' and 'all' into a code range or no filter here). Ordered by month: a period
-- filter skips the rest through DuckDB's zone maps.
CREATE OR REPLACE TABLE rollup_detail AS
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
       CAST(coalesce(SUM(procedures) FILTER (WHERE payments_cents IS NOT NULL), 0) AS BIGINT)
           AS payments_procedures,
       CAST(coalesce(SUM(procedures) FILTER (WHERE allowed_cents IS NOT NULL), 0) AS BIGINT)
           AS allowed_procedures,
       CAST(coalesce(SUM(procedures) FILTER (WHERE charges_cents IS NOT NULL), 0) AS BIGINT)
           AS charges_procedures,
       CAST(coalesce(SUM(procedures) FILTER (WHERE beneficiaries IS NOT NULL), 0) AS BIGINT)
           AS beneficiaries_procedures
FROM claim_lines
GROUP BY ALL
ORDER BY month, cohort, hcpcs_code;

-- cohort x month x state x payer x code, derived cohorts included. One pass over the
-- lines: the distinct claims per code are most of its cost either way.
CREATE OR REPLACE TABLE rollup_month AS
WITH base AS (
    SELECT cohort,
           CAST(date_trunc('month', service_date) AS DATE) AS month,
           state,
           payer,
           hcpcs_code,
           CAST(SUM(procedures) AS BIGINT) AS procedures,
           CAST(coalesce(SUM(units), 0) AS BIGINT) AS units,
           CAST(COUNT(DISTINCT hash(claim_id)) FILTER (WHERE claim_id IS NOT NULL) AS BIGINT)
               AS claims,
           CAST(SUM(payments_cents) AS BIGINT) AS payments_cents,
           CAST(SUM(allowed_cents) AS BIGINT) AS allowed_cents,
           CAST(SUM(charges_cents) AS BIGINT) AS charges_cents,
           CAST(SUM(beneficiaries) AS BIGINT) AS beneficiaries,
           CAST(coalesce(SUM(procedures) FILTER (WHERE payments_cents IS NOT NULL), 0) AS BIGINT)
               AS payments_procedures,
           CAST(coalesce(SUM(procedures) FILTER (WHERE allowed_cents IS NOT NULL), 0) AS BIGINT)
               AS allowed_procedures,
           CAST(coalesce(SUM(procedures) FILTER (WHERE charges_cents IS NOT NULL), 0) AS BIGINT)
               AS charges_procedures,
           CAST(coalesce(SUM(procedures) FILTER (WHERE beneficiaries IS NOT NULL), 0) AS BIGINT)
               AS beneficiaries_procedures
    FROM claim_lines
    GROUP BY ALL
)
SELECT cohort, month, state, payer, hcpcs_code, procedures, units, claims,
       payments_cents, allowed_cents, charges_cents, beneficiaries, payments_procedures,
       allowed_procedures, charges_procedures, beneficiaries_procedures
FROM base
UNION ALL
SELECT 'rehab', month, state, payer, hcpcs_code,
       CAST(SUM(procedures) AS BIGINT), CAST(SUM(units) AS BIGINT), CAST(SUM(claims) AS BIGINT),
       CAST(SUM(payments_cents) AS BIGINT), CAST(SUM(allowed_cents) AS BIGINT),
       CAST(SUM(charges_cents) AS BIGINT), CAST(SUM(beneficiaries) AS BIGINT),
       CAST(SUM(payments_procedures) AS BIGINT), CAST(SUM(allowed_procedures) AS BIGINT),
       CAST(SUM(charges_procedures) AS BIGINT), CAST(SUM(beneficiaries_procedures) AS BIGINT)
FROM base
WHERE length(hcpcs_code) = 5 AND hcpcs_code BETWEEN '97010' AND '97799'
  AND regexp_full_match(hcpcs_code, '[0-9]{5}')
GROUP BY ALL
UNION ALL
SELECT 'all', month, state, payer, hcpcs_code,
       CAST(SUM(procedures) AS BIGINT), CAST(SUM(units) AS BIGINT), CAST(SUM(claims) AS BIGINT),
       CAST(SUM(payments_cents) AS BIGINT), CAST(SUM(allowed_cents) AS BIGINT),
       CAST(SUM(charges_cents) AS BIGINT), CAST(SUM(beneficiaries) AS BIGINT),
       CAST(SUM(payments_procedures) AS BIGINT), CAST(SUM(allowed_procedures) AS BIGINT),
       CAST(SUM(charges_procedures) AS BIGINT), CAST(SUM(beneficiaries_procedures) AS BIGINT)
FROM base
GROUP BY ALL
ORDER BY cohort, month, hcpcs_code, state, payer;

-- The same without state and payer: what most questions need, about 1/100th the rows.
CREATE OR REPLACE TABLE rollup_national AS
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
FROM rollup_month
GROUP BY ALL
ORDER BY cohort, month, hcpcs_code;

-- Claims of a scope with no code split: the denominator of a claims share and claim
-- totals, by every dimension but the code and the modifiers (a modifier is on a line).
-- 'rehab' counts the claims with at least one rehab line; 'all' every claim (once per
-- provider cohort on it).
CREATE OR REPLACE TABLE rollup_claims AS
WITH per_claim AS (
    SELECT hash(claim_id) AS claim,
           cohort,
           CAST(date_trunc('month', service_date) AS DATE) AS month,
           state,
           payer,
           coalesce(place_of_service, '') AS place_of_service,
           bool_or(length(hcpcs_code) = 5 AND hcpcs_code BETWEEN '97010' AND '97799'
                   AND regexp_full_match(hcpcs_code, '[0-9]{5}')) AS rehab
    FROM claim_lines
    WHERE claim_id IS NOT NULL
    GROUP BY ALL
),
per_cohort AS (
    SELECT cohort, month, state, payer, place_of_service,
           CAST(COUNT(*) AS BIGINT) AS claims,
           CAST(COUNT(*) FILTER (WHERE rehab) AS BIGINT) AS rehab_claims
    FROM per_claim
    GROUP BY ALL
)
SELECT cohort, month, state, payer, place_of_service, claims FROM per_cohort
UNION ALL
SELECT 'rehab', month, state, payer, place_of_service, CAST(SUM(rehab_claims) AS BIGINT)
FROM per_cohort
WHERE rehab_claims > 0
GROUP BY ALL
UNION ALL
-- a claim is in one provider cohort's rows per month, state, payer and place, so 'all'
-- adds the cohorts' counts (the per_claim grain keeps the cohort)
SELECT 'all', month, state, payer, place_of_service, CAST(SUM(claims) AS BIGINT)
FROM per_cohort
GROUP BY ALL
ORDER BY cohort, month, state, payer, place_of_service;
