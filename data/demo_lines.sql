-- Expands one batch of the demo's quota cells into claim lines (data/demo.py).
--
-- Each cell (cohort, month, code, state, payer, n) becomes n lines via range(n). Nothing
-- is random: every per-line detail is a hash of the line's identity, so every build of
-- the same size writes the same lines. A claim is up to three lines of one cohort,
-- month, state and payer: the i-th line of the codes in slots 0-2 (3-5, ...) of the
-- cohort's code list, so a visit reads like 97110 + 97140 + 97530. Lines of a claim
-- share its day, provider and place of service; weekend days move to Friday or Monday.
-- A provider is a number in its cohort x state pool; its NPI is that number scrambled
-- into nine digits plus the Luhn check digit real NPIs carry, and its NUCC taxonomy
-- comes from the cohort's taxonomy mix. Mixes arrive as 100-bucket lists, one block of
-- 100 per cohort ($taxonomy_buckets, $pos_buckets) or one for all ($units_buckets):
-- list lookups cost less here than joins. Amounts are the cell's fees (data/demo_fees.csv,
-- whole cents per unit, by code and payer) times the line's units.
INSERT INTO claim_lines BY NAME
WITH expanded AS (
    SELECT c.*,
           (c.grp * 16777216 + r.i) * 64 + c.slot // 3 AS claim_no
    FROM demo_cells AS c, range(c.n) AS r(i)
    WHERE c.batch = $batch
), hashed AS (
    SELECT e.*,
           e.month + CAST(hash(e.claim_no, 'day') % e.days AS INTEGER) AS day0,
           CAST(hash(e.claim_no, 'pos') % 100 AS INTEGER) AS pos_bucket,
           e.pool_start + CAST(hash(e.claim_no, 'npi') % e.pool_size AS BIGINT) AS provider_id,
           CAST(hash(e.claim_no, e.slot, 'units') % 100 AS INTEGER) AS units_bucket,
           CAST(hash(e.claim_no, e.slot, 'modifier') % 100 AS INTEGER) AS modifier_bucket
    FROM expanded AS e
), npi_digits AS (
    -- 7919 is prime to 9e7, so distinct providers get distinct 9-digit bases.
    SELECT h.*, b // 100000000 % 10 AS d1, b // 10000000 % 10 AS d2, b // 1000000 % 10 AS d3,
           b // 100000 % 10 AS d4, b // 10000 % 10 AS d5, b // 1000 % 10 AS d6,
           b // 100 % 10 AS d7, b // 10 % 10 AS d8, b % 10 AS d9, b AS npi_base
    FROM (SELECT *, 100000000 + (provider_id * 7919 + 4242424) % 90000000 AS b,
                 CASE WHEN timed THEN $units_buckets[units_bucket + 1] ELSE 1 END AS units_n
          FROM hashed) AS h
)
SELECT
    'DM' || lpad(CAST(h.claim_no AS VARCHAR), 14, '0') AS claim_id,
    h.slot % 3 + 1 AS line_number,
    CASE isodow(h.day0)
        WHEN 6 THEN CASE WHEN day(h.day0) > 1 THEN h.day0 - 1 ELSE h.day0 + 2 END
        WHEN 7 THEN CASE WHEN day(h.day0) < h.days THEN h.day0 + 1 ELSE h.day0 - 2 END
        ELSE h.day0
    END AS service_date,
    h.code AS hcpcs_code,
    CASE WHEN h.modifier_extra IS NOT NULL AND h.modifier_bucket < h.modifier_extra_pct
         THEN concat_ws(' ', h.modifier_base, h.modifier_extra)
         ELSE h.modifier_base
    END AS modifiers,
    h.units_n AS units,
    -- Luhn over "80840" + the base (the prefix contributes 24): every second digit from
    -- the right is doubled, and a doubled digit counts its digit sum (2d - 9 when d >= 5).
    CAST(h.npi_base AS VARCHAR) || CAST((10 - (24
        + 2 * (h.d1 + h.d3 + h.d5 + h.d7 + h.d9)
        - 9 * (h.d1 // 5 + h.d3 // 5 + h.d5 // 5 + h.d7 // 5 + h.d9 // 5)
        + h.d2 + h.d4 + h.d6 + h.d8) % 10) % 10 AS VARCHAR) AS rendering_npi,
    $taxonomy_buckets[h.cohort_idx * 100 + h.provider_id % 100 + 1] AS rendering_taxonomy,
    h.cohort AS cohort,
    $pos_buckets[h.cohort_idx * 100 + h.pos_bucket + 1] AS place_of_service,
    -- the fee schedule's setting of that place (data/facility_places.csv), as ingest does
    CASE WHEN list_contains($facility_places, $pos_buckets[h.cohort_idx * 100 + h.pos_bucket + 1])
         THEN 'facility' ELSE 'non-facility' END AS facility_setting,
    h.payer AS payer,
    h.state AS state,
    1 AS procedures,
    $source_id AS source_id,
    h.units_n * h.fee_charge AS charges_cents,
    h.units_n * h.fee_allowed AS allowed_cents,
    h.units_n * h.fee_paid AS payments_cents
FROM npi_digits AS h;
