-- Expands one batch of the demo's quota cells into claim lines (data/demo.py).
--
-- Each cell (cohort, month, code, state, payer, n) becomes n lines via range(n). Nothing
-- is random: every per-line detail is a hash of the line's identity, so every build of
-- the same size writes the same lines. A claim is up to three lines of one cohort,
-- month, state and payer: the i-th line of the codes in slots 0-2 (3-5, ...) of the
-- cohort's code list, so a visit reads like 97110 + 97140 + 97530. Lines of a claim
-- share its day, provider and place of service; weekend days move to Friday or Monday.
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
    CASE WHEN h.timed THEN u.units ELSE 1 END AS units,
    p.npi AS rendering_npi,
    p.taxonomy AS rendering_taxonomy,
    h.cohort AS cohort,
    s.pos AS place_of_service,
    h.payer AS payer,
    h.state AS state,
    1 AS procedures,
    $source_id AS source_id
FROM hashed AS h
JOIN demo_providers AS p ON p.provider_id = h.provider_id
JOIN demo_pos AS s ON s.cohort = h.cohort AND s.bucket = h.pos_bucket
JOIN demo_units AS u ON u.bucket = h.units_bucket;
