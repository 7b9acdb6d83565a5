-- Ingest of real files (data/ingest.py). Named blocks, each started by a `-- name:` line.
--
-- Values are bound parameters ($path, $source_id, ...). Two structural slots are filled
-- by data/ingest.py before a block runs, never with user text:
--   __SOURCE__     the file read: a SELECT that yields the canonical columns of the file
--                  kind as VARCHAR (plus _malformed and _raw_line), built from column
--                  positions and a fixed vocabulary of names
--   __VALIDATED__  the kind's *_validated block (itself holding __SOURCE__)
--   __ROW__        the list of the kind's columns as read, then _malformed and _raw_line
-- Validation is set-based: one SELECT types every column (TRY_CAST, lookups) and gives
-- each row `ok` and, for the others, a `reason`. The file is read once: rows that are ok
-- go to claim_lines, and the others are set aside as they go by (ingest_set_aside, a
-- function data/ingest.py registers), then read back, validated again to get their
-- reasons and written to ingest_rejects.

-- name: lookups
-- Reference maps from data/ (via data.catalog) as temp tables for the joins below. Each
-- key is listed in the spellings a file may use (CA/ca/Ca, 225x00000x, 2 or 02), so a
-- join does the normalising: cheaper per row than upper()/regexp on every value.
CREATE OR REPLACE TEMP TABLE ingest_taxonomy AS
    SELECT DISTINCT unnest([code, upper(code), lower(code)]) AS spelling, code AS taxonomy, cohort
    FROM (SELECT unnest($taxonomy_codes) AS code, unnest($taxonomy_cohorts) AS cohort);
CREATE OR REPLACE TEMP TABLE ingest_payers AS
    SELECT DISTINCT unnest($payer_words) AS word, unnest($payer_keys) AS payer;
CREATE OR REPLACE TEMP TABLE ingest_states AS
    SELECT DISTINCT unnest([code, lower(code), code[1] || lower(code[2]), lower(code[1]) || code[2]])
               AS spelling,
           code
    FROM (SELECT unnest($state_codes) AS code);
-- CMS place-of-service codes 00-99, each with its fee-schedule setting (facility or
-- non-facility, $facility_places from data/facility_places.csv).
CREATE OR REPLACE TEMP TABLE ingest_places AS
    SELECT DISTINCT unnest([lpad(CAST(i AS VARCHAR), 2, '0'), CAST(i AS VARCHAR)]) AS spelling,
           lpad(CAST(i AS VARCHAR), 2, '0') AS pos,
           CASE WHEN list_contains($facility_places, lpad(CAST(i AS VARCHAR), 2, '0'))
                THEN 'facility' ELSE 'non-facility' END AS setting
    FROM range(100) AS t(i);
-- Values already in canonical form, so that a lookup (cheap) spares most rows a regexp
-- (dear): the codes toprank describes (data/codes.csv), every single two-character
-- modifier and the pairs of common therapy modifiers. They only speed things up: any
-- other value goes through ingest_code / ingest_modifiers as before, same result.
CREATE OR REPLACE TEMP TABLE ingest_known_codes AS
    SELECT DISTINCT unnest($known_codes) AS spelling;
CREATE OR REPLACE TEMP TABLE ingest_known_modifiers AS
    WITH chars AS (
        SELECT unnest(string_split('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', '')) AS c
    ),
    common AS (
        SELECT unnest(['GP', 'GO', 'GN', '59', 'KX', 'CQ', 'CO', 'XU', 'XS', 'XE', 'XP', '76',
                       '77', '25', 'GA', 'GY', 'GZ', 'KS', '52', 'LT', 'RT']) AS m
    )
    SELECT a.c || b.c AS spelling FROM chars AS a, chars AS b
    UNION
    SELECT x.m || ' ' || y.m FROM common AS x, common AS y WHERE x.m <> y.m;
CREATE OR REPLACE TEMP TABLE ingest_provider_types AS
    SELECT unnest($provider_types) AS provider_type, unnest($provider_cohorts) AS cohort;
-- Blank -> NULL, surrounding spaces dropped; the LIKE tests first because trim() on
-- every value costs more than they do.
CREATE OR REPLACE TEMP MACRO ingest_tidy(x) AS
    CASE WHEN x = '' THEN NULL
         WHEN x LIKE ' %' OR x LIKE '% ' THEN nullif(trim(x), '')
         ELSE x END;
-- A date written YYYY-MM-DD that exists in the calendar, else NULL.
CREATE OR REPLACE TEMP MACRO ingest_date(x) AS
    CASE WHEN x LIKE '____-__-__' THEN TRY_CAST(x AS DATE)
         WHEN trim(x) LIKE '____-__-__' THEN TRY_CAST(trim(x) AS DATE)
    END;
-- A HCPCS/CPT code in canonical form, or NULL: CPT 5 digits, CPT category II/III, PLA
-- and MAAA codes (4 digits + F/T/U/M), HCPCS level II (a letter + 4 digits).
CREATE OR REPLACE TEMP MACRO ingest_code(x) AS
    CASE WHEN regexp_full_match(x, '[0-9]{4}[0-9FMTU]|[A-Z][0-9]{4}') THEN x
         WHEN regexp_full_match(upper(trim(x)), '[0-9]{4}[0-9FMTU]|[A-Z][0-9]{4}')
         THEN upper(trim(x))
    END;
-- Ten digits, or NULL.
CREATE OR REPLACE TEMP MACRO ingest_npi(x) AS
    CASE WHEN regexp_full_match(x, '[0-9]{10}') THEN x
         WHEN regexp_full_match(trim(x), '[0-9]{10}') THEN trim(x)
    END;
-- "GP,59" / "gp; 59" / " GP  59" -> "GP 59"; NULL when blank.
CREATE OR REPLACE TEMP MACRO ingest_modifier_words(x) AS
    nullif(regexp_replace(trim(translate(upper(x), ',;', '  ')), ' {2,}', ' ', 'g'), '');
CREATE OR REPLACE TEMP MACRO ingest_modifiers(x) AS
    CASE WHEN regexp_full_match(x, '[A-Z0-9]{2}( [A-Z0-9]{2})*') THEN x
         WHEN regexp_full_match(ingest_modifier_words(x), '[A-Z0-9]{2}( [A-Z0-9]{2})*')
         THEN ingest_modifier_words(x)
    END;
-- "Medicare_Advantage " / "Self-Pay" -> "medicare advantage" / "self pay"
CREATE OR REPLACE TEMP MACRO ingest_payer_words(x) AS
    CASE WHEN x IN ('medicare', 'medicaid', 'commercial', 'other') THEN x
         ELSE nullif(regexp_replace(trim(translate(lower(x), '_-', '  ')), ' {2,}', ' ', 'g'), '')
    END;
-- An amount in dollars as written ("1234.5", " 80.00 "), or NULL when it is not a number.
CREATE OR REPLACE TEMP MACRO ingest_dollars(x) AS TRY_CAST(ingest_tidy(x) AS DECIMAL(38, 6));
-- Dollars -> whole cents (halves away from zero), for amounts from 0 up to a trillion.
CREATE OR REPLACE TEMP MACRO ingest_cents(d) AS
    CASE WHEN d >= 0 AND d < 1e12 THEN CAST(round(d * 100) AS BIGINT) END;
-- Why an optional amount is refused (NULL: it is fine, or blank).
CREATE OR REPLACE TEMP MACRO ingest_amount_problem(name, x, d) AS
    CASE WHEN ingest_tidy(x) IS NULL THEN NULL
         WHEN d IS NULL THEN name || ' not a number'
         WHEN d < 0 THEN 'negative ' || name
         WHEN d >= 1e12 THEN name || ' too large'
    END;
-- Why a CMS average is refused (NULL: fine or blank); `cents` is Tot_Srvcs x it in cents.
CREATE OR REPLACE TEMP MACRO ingest_puf_average_problem(name, x, d, cents) AS
    CASE WHEN ingest_tidy(x) IS NULL THEN NULL
         WHEN d IS NULL THEN name || ' not a number'
         WHEN d < 0 THEN 'negative ' || name
         WHEN cents IS NULL THEN name || ' x Tot_Srvcs too large'
    END;
-- "a,b" -> a,b and "say ""hi""" -> say "hi" (the per-line reader's fields keep their quotes).
CREATE OR REPLACE TEMP MACRO ingest_unquote(x) AS
    CASE WHEN starts_with(x, '"') THEN replace(x[2:-2], '""', '"') ELSE x END;

-- name: source_csv
-- DuckDB's quote-aware CSV reader, every column VARCHAR; malformed lines (column count,
-- quoting, encoding) go to the temp table ingest_reject_errors instead of failing.
SELECT __PROJECTION__,
       CAST(NULL AS VARCHAR) AS _malformed,
       CAST(NULL AS VARCHAR) AS _raw_line
FROM read_csv($path, columns = $columns, header = true, auto_detect = false,
              delim = $delim, quote = '"', escape = '"', compression = $compression,
              store_rejects = true, rejects_table = 'ingest_reject_errors',
              rejects_scan = 'ingest_reject_scans')

-- name: source_lines
-- One physical line = one row: the file is read as single-column lines (no quote
-- handling, so a stray quote can never swallow the lines after it) and split here.
-- $raw_delim is a byte sequence no text contains, so a line is never cut; strict_mode
-- off lets mixed \n and \r\n endings through (a \r ends a line too, which leaves a NULL
-- row where a blank line or a \r\n was: those are dropped, as the line count does).
-- A line is split in one pass whatever the number of columns: on commas when it holds
-- no quote (most lines), else, when $line_pattern shows it is well formed (quoted fields
-- with "" inside, or fields without quotes), one match of $field_pattern per field over
-- ',' || line. A line that does not split into the header's number of fields is rejected.
WITH raw AS (
    SELECT line
    FROM read_csv($path, columns = {'line': 'VARCHAR'}, header = true, auto_detect = false,
                  delim = $raw_delim, quote = '', escape = '', new_line = '\n',
                  strict_mode = false, compression = $compression, store_rejects = true,
                  rejects_table = 'ingest_reject_errors', rejects_scan = 'ingest_reject_scans')
    WHERE line IS NOT NULL
),
parsed AS (
    SELECT line,
           CASE WHEN strpos(line, '"') = 0 THEN string_split(line, $delim)
                WHEN regexp_full_match(line, $line_pattern)
                THEN regexp_extract_all($delim || line, $field_pattern, 1)
           END AS fields
    FROM raw
),
split AS (
    SELECT line, fields, coalesce(len(fields) = $ncols, false) AS well_formed
    FROM parsed
)
SELECT __PROJECTION__,
       CASE WHEN NOT well_formed THEN
           CASE WHEN fields IS NULL
                THEN 'malformed CSV line: bad quoting (unterminated or stray quote)'
                ELSE printf('malformed CSV line: %d columns, the header has %d',
                            len(fields), $ncols)
           END
       END AS _malformed,
       line AS _raw_line
FROM split

-- name: source_parquet
SELECT __PROJECTION__,
       CAST(NULL AS VARCHAR) AS _malformed,
       CAST(NULL AS VARCHAR) AS _raw_line
FROM read_parquet($path)

-- name: source_set_aside
-- The rows the load pass set aside, read back from the Parquet file they were kept in:
-- `row` is the __ROW__ list of claims_insert / puf_insert (columns, _malformed, _raw_line).
SELECT __PROJECTION__,
       "row"[$ncols + 1] AS _malformed,
       "row"[$ncols + 2] AS _raw_line
FROM read_parquet($set_aside)

-- name: csv_rejected_lines
-- Lines DuckDB's reader refused (an error per column may repeat a line: one per line
-- here). `spanning` counts rejected records that run over several lines, or that DuckDB
-- cut at 10,000 characters: either means a quote ran across lines and swallowed what
-- followed, so the per-line reader must take over.
WITH per_line AS (
    SELECT line, any_value(trim(csv_line, chr(10) || chr(13))) AS csv_line
    FROM ingest_reject_errors
    GROUP BY line
)
SELECT count(*) AS records,
       count(*) FILTER (WHERE strpos(csv_line, chr(10)) > 0 OR length(csv_line) >= 9999)
           AS spanning
FROM per_line

-- name: csv_rejects_insert
-- Line numbers are exact from the quote-aware reader only (the per-line reader counts a
-- \r as a line end), so $exact_lines says whether to keep them.
INSERT INTO ingest_rejects (file, line, reason, raw_line)
SELECT $file, CASE WHEN $exact_lines THEN line END,
       'malformed CSV line: ' || string_agg(DISTINCT
           CASE error_type
               WHEN 'MISSING COLUMNS' THEN 'too few columns'
               WHEN 'TOO MANY COLUMNS' THEN 'too many columns'
               WHEN 'UNQUOTED VALUE' THEN 'bad quoting (unterminated or stray quote)'
               WHEN 'INVALID ENCODING' THEN 'not UTF-8 text'
               WHEN 'INVALID UNICODE' THEN 'not UTF-8 text'
               WHEN 'LINE SIZE OVER MAXIMUM' THEN 'line too long'
               ELSE lower(error_type)
           END, ', '),
       any_value(trim(csv_line, chr(10) || chr(13)))
FROM ingest_reject_errors
GROUP BY line
ORDER BY line

-- name: drop_reject_tables
DROP TABLE IF EXISTS temp.ingest_reject_errors;
DROP TABLE IF EXISTS temp.ingest_reject_scans;

-- name: claims_rejects_table
CREATE OR REPLACE TEMP TABLE ingest_rejects (
    file               VARCHAR,
    line               BIGINT,   -- physical line, when the CSV reader knows it
    reason             VARCHAR,
    claim_id           VARCHAR,
    line_number        VARCHAR,
    service_date       VARCHAR,
    hcpcs_code         VARCHAR,
    modifiers          VARCHAR,
    units              VARCHAR,
    rendering_npi      VARCHAR,
    rendering_taxonomy VARCHAR,
    place_of_service   VARCHAR,
    payer_type         VARCHAR,
    state              VARCHAR,
    charge_amount      VARCHAR,
    allowed_amount     VARCHAR,
    paid_amount        VARCHAR,
    raw_line           VARCHAR   -- the line as it was, when it could not be split
);

-- name: claims_validated
-- This runs once per row, so it is written for speed: a value in canonical form passes
-- its first check as it stands and only the others pay for trim/upper/regexp_replace
-- (CASE, OR and coalesce evaluate later branches only for the rows that reach them),
-- and the lookups normalise spelling through joins. `ok` is never NULL, so `ok` and
-- `NOT ok` split the rows exactly in two; `reason` is read for the rows set aside only.
WITH src AS (__SOURCE__),
typed AS (
    SELECT src.*,
           ingest_tidy(claim_id) AS c_claim_id,
           TRY_CAST(line_number AS INTEGER) AS t_line_number,
           ingest_date(service_date) AS t_service_date,
           -- IN (SELECT ...), not a join: DuckDB then builds its hash table on the small
           -- lookup; a join straight on the file's rows was seen building it on the file.
           CASE WHEN hcpcs_code IN (SELECT spelling FROM ingest_known_codes) THEN hcpcs_code
                ELSE ingest_code(hcpcs_code) END AS t_hcpcs_code,
           CASE WHEN modifiers IN (SELECT spelling FROM ingest_known_modifiers) THEN modifiers
                ELSE ingest_modifiers(modifiers) END AS t_modifiers,
           TRY_CAST(units AS DECIMAL(18, 3)) AS d_units,
           ingest_npi(rendering_npi) AS t_npi,
           ingest_tidy(rendering_taxonomy) AS c_taxonomy,
           ingest_tidy(place_of_service) AS c_pos,
           ingest_payer_words(payer_type) AS c_payer,
           ingest_tidy(state) AS c_state,
           ingest_dollars(charge_amount) AS d_charge,
           ingest_dollars(allowed_amount) AS d_allowed,
           ingest_dollars(paid_amount) AS d_paid
    FROM src
),
looked_up AS (
    SELECT typed.*,
           CASE WHEN d_units >= 0 AND d_units = trunc(d_units) AND d_units <= 2147483647
                THEN CAST(d_units AS INTEGER) END AS t_units,
           coalesce(tax.taxonomy, c_taxonomy) AS t_taxonomy,
           coalesce(tax.cohort, 'other') AS t_cohort,
           pos.pos AS t_pos,
           pos.setting AS t_setting,
           pay.payer AS t_payer,
           st.code AS t_state,
           ingest_cents(d_charge) AS t_charges,
           ingest_cents(d_allowed) AS t_allowed,
           ingest_cents(d_paid) AS t_payments
    FROM typed
    LEFT JOIN ingest_taxonomy AS tax ON tax.spelling = typed.c_taxonomy
    LEFT JOIN ingest_places AS pos ON pos.spelling = typed.c_pos
    LEFT JOIN ingest_payers AS pay ON pay.word = typed.c_payer
    LEFT JOIN ingest_states AS st ON st.spelling = typed.c_state
),
judged AS (
    SELECT looked_up.*,
           coalesce(
               _malformed IS NULL
               AND c_claim_id IS NOT NULL
               -- an optional value is fine when valid or absent; CASE keeps the blank
               -- test (trim, regexp_replace) to the rows that are neither
               AND CASE WHEN t_line_number >= 1 OR line_number IS NULL THEN true
                        ELSE ingest_tidy(line_number) IS NULL END
               AND t_service_date BETWEEN DATE '1990-01-01' AND $today
               AND t_hcpcs_code IS NOT NULL
               AND CASE WHEN t_modifiers IS NOT NULL OR modifiers IS NULL THEN true
                        ELSE ingest_modifier_words(modifiers) IS NULL END
               AND CASE WHEN t_units IS NOT NULL OR units IS NULL THEN true
                        ELSE ingest_tidy(units) IS NULL END
               AND CASE WHEN t_npi IS NOT NULL OR rendering_npi IS NULL THEN true
                        ELSE ingest_tidy(rendering_npi) IS NULL END
               AND (t_pos IS NOT NULL OR c_pos IS NULL)
               AND t_payer IS NOT NULL
               AND t_state IS NOT NULL
               AND (t_charges IS NOT NULL OR ingest_tidy(charge_amount) IS NULL)
               AND (t_allowed IS NOT NULL OR ingest_tidy(allowed_amount) IS NULL)
               AND (t_payments IS NOT NULL OR ingest_tidy(paid_amount) IS NULL),
               false) AS ok
    FROM looked_up
)
SELECT claim_id, line_number, service_date, hcpcs_code, modifiers, units, rendering_npi,
       rendering_taxonomy, place_of_service, payer_type, state, charge_amount, allowed_amount,
       paid_amount, _malformed, _raw_line,
       c_claim_id, t_line_number, t_service_date, t_hcpcs_code, t_modifiers, t_units, t_npi,
       t_taxonomy, t_cohort, t_pos, t_setting, t_payer, t_state, t_charges, t_allowed,
       t_payments, ok,
       coalesce(_malformed, nullif(concat_ws('; ',
           CASE WHEN c_claim_id IS NULL THEN 'missing claim_id' END,
           CASE WHEN ingest_tidy(line_number) IS NOT NULL AND coalesce(t_line_number < 1, true)
                THEN 'line_number not a positive whole number' END,
           CASE WHEN ingest_tidy(service_date) IS NULL THEN 'missing service_date'
                WHEN t_service_date IS NULL THEN 'bad service_date (expected YYYY-MM-DD)'
                WHEN t_service_date < DATE '1990-01-01' THEN 'service_date before 1990'
                WHEN t_service_date > $today THEN 'service_date in the future'
           END,
           CASE WHEN ingest_tidy(hcpcs_code) IS NULL THEN 'missing hcpcs_code'
                WHEN t_hcpcs_code IS NULL THEN 'unknown code format' END,
           CASE WHEN t_modifiers IS NULL AND ingest_modifier_words(modifiers) IS NOT NULL
                THEN 'bad modifiers (expected two-character codes)' END,
           CASE WHEN ingest_tidy(units) IS NULL OR t_units IS NOT NULL THEN NULL
                WHEN d_units IS NULL THEN 'units not a number'
                WHEN d_units < 0 THEN 'negative units'
                WHEN d_units <> trunc(d_units) THEN 'units not a whole number'
                ELSE 'units too large'
           END,
           CASE WHEN t_npi IS NULL AND ingest_tidy(rendering_npi) IS NOT NULL
                THEN 'bad rendering_npi (expected 10 digits)' END,
           CASE WHEN t_pos IS NULL AND c_pos IS NOT NULL
                THEN 'bad place_of_service (expected a 2-digit code)' END,
           CASE WHEN c_payer IS NULL THEN 'missing payer_type'
                WHEN t_payer IS NULL THEN 'unknown payer_type' END,
           CASE WHEN c_state IS NULL THEN 'missing state'
                WHEN t_state IS NULL THEN 'unknown state' END,
           ingest_amount_problem('charge_amount', charge_amount, d_charge),
           ingest_amount_problem('allowed_amount', allowed_amount, d_allowed),
           ingest_amount_problem('paid_amount', paid_amount, d_paid)
       ), ''), 'invalid row') AS reason
FROM judged

-- name: claims_insert
-- The rows that are not ok are not inserted: DuckDB evaluates the OR per batch of rows
-- and calls ingest_set_aside only for the rows whose `ok` is false, with their values as
-- read. It keeps them for the rejects file and returns false.
INSERT INTO claim_lines (claim_id, line_number, service_date, hcpcs_code, modifiers, units,
                         rendering_npi, rendering_taxonomy, cohort, place_of_service,
                         facility_setting, payer, state, procedures, source_id, charges_cents,
                         allowed_cents, payments_cents)
SELECT c_claim_id, t_line_number, t_service_date, t_hcpcs_code, t_modifiers, t_units, t_npi,
       t_taxonomy, t_cohort, t_pos, t_setting, t_payer, t_state, 1, $source_id, t_charges,
       t_allowed, t_payments
FROM (__VALIDATED__)
WHERE ok OR ingest_set_aside(ok, __ROW__)

-- name: claims_rejects_insert
-- __SOURCE__ here is source_set_aside: the same validation gives each row its reason.
INSERT INTO ingest_rejects
SELECT $file, NULL, reason, claim_id, line_number, service_date, hcpcs_code, modifiers, units,
       rendering_npi, rendering_taxonomy, place_of_service, payer_type, state, charge_amount,
       allowed_amount, paid_amount, _raw_line
FROM (__VALIDATED__)
WHERE NOT ok

-- name: puf_rejects_table
CREATE OR REPLACE TEMP TABLE ingest_rejects (
    file                      VARCHAR,
    line                      BIGINT,
    reason                    VARCHAR,
    Rndrng_NPI                VARCHAR,
    Rndrng_Prvdr_Type         VARCHAR,
    Rndrng_Prvdr_State_Abrvtn VARCHAR,
    HCPCS_Cd                  VARCHAR,
    HCPCS_Desc                VARCHAR,
    Place_Of_Srvc             VARCHAR,
    Tot_Srvcs                 VARCHAR,
    Avg_Mdcr_Pymt_Amt         VARCHAR,
    Avg_Mdcr_Alowd_Amt        VARCHAR,
    Avg_Sbmtd_Chrg            VARCHAR,
    Tot_Benes                 VARCHAR,
    raw_line                  VARCHAR
);

-- name: puf_validated
-- One row of the CMS "by Provider and Service" file = one provider x code x setting for
-- the whole year. Tot_Srvcs can be fractional: it is rounded to the nearest whole number
-- (halves away from zero) to become `procedures`. Place_Of_Srvc is F (facility) or O
-- (non-facility): it goes to facility_setting, never to place_of_service (2-digit codes
-- only); a file that gives a 2-digit code instead has it kept, its setting looked up.
-- The AMA copyright row of some legacy files (NPI 0000000001, the notice in the name
-- column) is `notice`: set aside with the rejected rows, then counted as skipped.
-- Payments, allowed amounts and charges are Tot_Srvcs x the row's average, rounded to
-- the cent once (exact decimal arithmetic: Tot_Srvcs to 3 places, averages to 10); blank
-- averages or Tot_Benes leave the amount unknown (NULL), bad ones reject the row.
WITH src AS (__SOURCE__),
clean AS (
    SELECT src.*,
           ingest_tidy(rndrng_npi) AS c_npi,
           coalesce(ingest_tidy(rndrng_npi) = '0000000001'
                    OR lower(rndrng_prvdr_last_org_name) LIKE '%copyright%', false) AS notice,
           lower(ingest_tidy(rndrng_prvdr_type)) AS c_provider_type,
           ingest_tidy(rndrng_prvdr_state_abrvtn) AS c_state,
           ingest_tidy(hcpcs_cd) AS c_hcpcs_code,
           upper(ingest_tidy(place_of_srvc)) AS c_place,
           ingest_tidy(tot_srvcs) AS c_tot_srvcs,
           TRY_CAST(ingest_tidy(avg_mdcr_pymt_amt) AS DECIMAL(20, 10)) AS d_avg_pymt,
           TRY_CAST(ingest_tidy(avg_mdcr_alowd_amt) AS DECIMAL(20, 10)) AS d_avg_alowd,
           TRY_CAST(ingest_tidy(avg_sbmtd_chrg) AS DECIMAL(20, 10)) AS d_avg_chrg,
           TRY_CAST(ingest_tidy(tot_benes) AS DECIMAL(38, 6)) AS d_benes
    FROM src
),
typed AS (
    SELECT clean.*,
           ingest_code(c_hcpcs_code) AS t_hcpcs_code,
           TRY_CAST(c_tot_srvcs AS DOUBLE) AS d_tot_srvcs,
           coalesce(pt.cohort, 'other') AS t_cohort,
           st.code AS t_state,
           pos.pos AS t_pos,
           CASE c_place WHEN 'F' THEN 'facility' WHEN 'O' THEN 'non-facility'
                ELSE pos.setting END AS t_setting
    FROM clean
    LEFT JOIN ingest_provider_types AS pt ON pt.provider_type = clean.c_provider_type
    LEFT JOIN ingest_states AS st ON st.spelling = clean.c_state
    LEFT JOIN ingest_places AS pos ON pos.spelling = clean.c_place
),
checked AS (
    SELECT typed.*,
           CASE WHEN d_tot_srvcs >= 0 AND d_tot_srvcs < 1e15
                THEN CAST(round(d_tot_srvcs) AS BIGINT) END AS t_procedures,
           TRY_CAST(round(TRY_CAST(c_tot_srvcs AS DECIMAL(18, 3)) * d_avg_pymt * 100) AS BIGINT)
               AS t_payments,
           TRY_CAST(round(TRY_CAST(c_tot_srvcs AS DECIMAL(18, 3)) * d_avg_alowd * 100) AS BIGINT)
               AS t_allowed,
           TRY_CAST(round(TRY_CAST(c_tot_srvcs AS DECIMAL(18, 3)) * d_avg_chrg * 100) AS BIGINT)
               AS t_charges,
           CASE WHEN d_benes >= 0 AND d_benes = trunc(d_benes) AND d_benes < 1e15
                THEN CAST(d_benes AS BIGINT) END AS t_benes,
           coalesce(
               _malformed IS NULL
               AND NOT notice
               AND regexp_full_match(c_npi, '[0-9]{10}')
               AND t_hcpcs_code IS NOT NULL
               AND d_tot_srvcs >= 0 AND d_tot_srvcs < 1e15
               AND t_state IS NOT NULL
               AND (d_avg_pymt >= 0 OR ingest_tidy(avg_mdcr_pymt_amt) IS NULL)
               AND (d_avg_alowd >= 0 OR ingest_tidy(avg_mdcr_alowd_amt) IS NULL)
               AND (d_avg_chrg >= 0 OR ingest_tidy(avg_sbmtd_chrg) IS NULL)
               AND (t_benes IS NOT NULL OR ingest_tidy(tot_benes) IS NULL)
               AND (t_setting IS NOT NULL OR c_place IS NULL),
               false) AS ok
    FROM typed
),
amounts AS (  -- an amount too large for cents (past 9e16 dollars) rejects the row too
    SELECT checked.* REPLACE (
               ok AND (t_payments IS NOT NULL OR d_avg_pymt IS NULL)
                  AND (t_allowed IS NOT NULL OR d_avg_alowd IS NULL)
                  AND (t_charges IS NOT NULL OR d_avg_chrg IS NULL) AS ok)
    FROM checked
)
SELECT rndrng_npi, rndrng_prvdr_last_org_name, rndrng_prvdr_type, rndrng_prvdr_state_abrvtn,
       hcpcs_cd, hcpcs_desc, place_of_srvc, tot_srvcs, avg_mdcr_pymt_amt,
       avg_mdcr_alowd_amt, avg_sbmtd_chrg, tot_benes, _malformed, _raw_line,
       c_npi, t_hcpcs_code, t_pos, t_setting, t_cohort, t_state, t_procedures, t_payments,
       t_allowed, t_charges, t_benes, ok,
       CASE WHEN notice AND _malformed IS NULL THEN 'AMA copyright notice row (not data)' ELSE
       coalesce(_malformed, nullif(concat_ws('; ',
           CASE WHEN c_npi IS NULL THEN 'missing Rndrng_NPI'
                WHEN NOT regexp_full_match(c_npi, '[0-9]{10}')
                THEN 'bad Rndrng_NPI (expected 10 digits)' END,
           CASE WHEN c_hcpcs_code IS NULL THEN 'missing HCPCS_Cd'
                WHEN t_hcpcs_code IS NULL THEN 'unknown code format' END,
           CASE WHEN c_tot_srvcs IS NULL THEN 'missing Tot_Srvcs'
                WHEN d_tot_srvcs IS NULL OR isnan(d_tot_srvcs) THEN 'Tot_Srvcs not a number'
                WHEN d_tot_srvcs < 0 THEN 'negative Tot_Srvcs'
                WHEN d_tot_srvcs >= 1e15 THEN 'Tot_Srvcs too large' END,
           CASE WHEN c_state IS NULL THEN 'missing Rndrng_Prvdr_State_Abrvtn'
                WHEN t_state IS NULL THEN 'unknown state' END,
           CASE WHEN t_setting IS NULL AND c_place IS NOT NULL
                THEN 'bad Place_Of_Srvc (expected F or O)' END,
           ingest_puf_average_problem('Avg_Mdcr_Pymt_Amt', avg_mdcr_pymt_amt, d_avg_pymt,
                                      t_payments),
           ingest_puf_average_problem('Avg_Mdcr_Alowd_Amt', avg_mdcr_alowd_amt, d_avg_alowd,
                                      t_allowed),
           ingest_puf_average_problem('Avg_Sbmtd_Chrg', avg_sbmtd_chrg, d_avg_chrg, t_charges),
           CASE WHEN ingest_tidy(tot_benes) IS NULL OR t_benes IS NOT NULL THEN NULL
                WHEN d_benes IS NULL THEN 'Tot_Benes not a number'
                WHEN d_benes < 0 THEN 'negative Tot_Benes'
                WHEN d_benes <> trunc(d_benes) THEN 'Tot_Benes not a whole number'
                ELSE 'Tot_Benes too large' END
       ), ''), 'invalid row') END AS reason
FROM amounts

-- name: puf_insert
-- The rows that are not ok are not inserted: DuckDB evaluates the OR per batch of rows
-- and calls ingest_set_aside only for the rows whose `ok` is false, with their values as
-- read. It keeps them for the rejects file and returns false.
INSERT INTO claim_lines (claim_id, line_number, service_date, hcpcs_code, modifiers, units,
                         rendering_npi, rendering_taxonomy, cohort, place_of_service,
                         facility_setting, payer, state, procedures, source_id, payments_cents,
                         allowed_cents, charges_cents, beneficiaries)
SELECT NULL, NULL, make_date($year, 1, 1), t_hcpcs_code, NULL, NULL, c_npi, NULL, t_cohort,
       t_pos, t_setting, 'medicare', t_state, t_procedures, $source_id, t_payments, t_allowed,
       t_charges, t_benes
FROM (__VALIDATED__)
WHERE ok OR ingest_set_aside(ok, __ROW__)

-- name: puf_rejects_insert
INSERT INTO ingest_rejects
SELECT $file, NULL, reason, rndrng_npi, rndrng_prvdr_type, rndrng_prvdr_state_abrvtn, hcpcs_cd,
       hcpcs_desc, place_of_srvc, tot_srvcs, avg_mdcr_pymt_amt, avg_mdcr_alowd_amt,
       avg_sbmtd_chrg, tot_benes, _raw_line
FROM (__VALIDATED__)
WHERE NOT ok

-- name: source_summary
SELECT min(service_date), max(service_date), coalesce(sum(procedures), 0)
FROM claim_lines
WHERE source_id = $source_id

-- name: reject_reasons
SELECT reason, count(*) AS n
FROM ingest_rejects
WHERE file = $file
GROUP BY reason
ORDER BY n DESC, reason
LIMIT 5

-- name: insert_source
INSERT INTO sources (source_id, name, kind, fingerprint, rows_read, rows_loaded, rows_rejected,
                     first_date, last_date, loaded_at)
VALUES ($source_id, $name, $kind, $fingerprint, $read, $loaded, $rejected, $first_date,
        $last_date, now())

-- name: remove_demo
DELETE FROM claim_lines WHERE source_id IN (SELECT source_id FROM sources WHERE kind = 'demo');
DELETE FROM sources WHERE kind = 'demo';
