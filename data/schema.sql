-- toprank database schema (DuckDB). Created by data.db.create_schema; idempotent.

-- One row per billed procedure line (or per aggregated public-use-file row).
CREATE TABLE IF NOT EXISTS claim_lines (
    claim_id           VARCHAR,
    line_number        INTEGER,
    service_date       DATE     NOT NULL,
    hcpcs_code         VARCHAR  NOT NULL,
    modifiers          VARCHAR,            -- space separated, e.g. 'GP 59'
    units              INTEGER,
    rendering_npi      VARCHAR,
    rendering_taxonomy VARCHAR,            -- NUCC code
    cohort             VARCHAR  NOT NULL,  -- ot, pt, slp, pmr, chiro, other (from the taxonomy)
    place_of_service   VARCHAR,            -- 2-digit CMS code
    payer              VARCHAR  NOT NULL,  -- medicare, medicaid, commercial, other
    state              VARCHAR  NOT NULL,  -- USPS code
    procedures         BIGINT   NOT NULL,  -- 1 for a claim line; Tot_Srvcs for a PUF row
    source_id          INTEGER  NOT NULL,
    -- Money in whole cents (NULL: the source has no such amount). Cents, not DOUBLE: sums
    -- of integers are exact and equal on DuckDB, PostgreSQL and Spark whatever the order
    -- of addition. A claim line's charge/allowed/paid amount; for a PUF row Tot_Srvcs x
    -- the file's average, rounded to the cent once, at ingest.
    charges_cents      BIGINT,
    allowed_cents      BIGINT,
    payments_cents     BIGINT,
    beneficiaries      BIGINT              -- Tot_Benes of a PUF row (claim files: NULL)
);
-- The fee schedule's setting: 'facility' or 'non-facility' (the CMS file's Place_Of_Srvc
-- F/O; for a claim line, from its place of service: data/facility_places.csv). Added
-- here so a database made before it gains the column on its next write.
ALTER TABLE claim_lines ADD COLUMN IF NOT EXISTS facility_setting VARCHAR;
-- Databases made before the amount columns: add them (NULL, as for a source without).
ALTER TABLE claim_lines ADD COLUMN IF NOT EXISTS charges_cents BIGINT;
ALTER TABLE claim_lines ADD COLUMN IF NOT EXISTS allowed_cents BIGINT;
ALTER TABLE claim_lines ADD COLUMN IF NOT EXISTS payments_cents BIGINT;
ALTER TABLE claim_lines ADD COLUMN IF NOT EXISTS beneficiaries BIGINT;

-- One row per loaded file (or the demo build): what it was, what it held, its fingerprint.
CREATE TABLE IF NOT EXISTS sources (
    source_id     INTEGER PRIMARY KEY,
    name          VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,   -- demo | claims | cms-puf
    fingerprint   VARCHAR,            -- sha256 of the file bytes; re-ingest is refused
    rows_read     BIGINT,             -- data rows: the AMA copyright row of a legacy CMS
                                      -- file is skipped and not counted (the ingest says so)
    rows_loaded   BIGINT,
    rows_rejected BIGINT,
    first_date    DATE,
    last_date     DATE,
    loaded_at     TIMESTAMP
);
