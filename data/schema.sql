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
    place_of_service   VARCHAR,
    payer              VARCHAR  NOT NULL,  -- medicare, medicaid, commercial, other
    state              VARCHAR  NOT NULL,  -- USPS code
    procedures         BIGINT   NOT NULL,  -- 1 for a claim line; Tot_Srvcs for a PUF row
    source_id          INTEGER  NOT NULL
);

-- One row per loaded file (or the demo build): what it was, what it held, its fingerprint.
CREATE TABLE IF NOT EXISTS sources (
    source_id     INTEGER PRIMARY KEY,
    name          VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,   -- demo | claims | cms-puf
    fingerprint   VARCHAR,            -- sha256 of the file bytes; re-ingest is refused
    rows_read     BIGINT,
    rows_loaded   BIGINT,
    rows_rejected BIGINT,
    first_date    DATE,
    last_date     DATE,
    loaded_at     TIMESTAMP
);
