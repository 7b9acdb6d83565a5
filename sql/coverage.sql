-- coverage: what the database holds, one row per loaded source (demo build or file).
-- The load day is what an answer shows, so it comes back as a DATE.
SELECT source_id,
       name,
       kind,
       first_date,
       last_date,
       rows_read,
       rows_loaded,
       rows_rejected,
       CAST(loaded_at AS DATE) AS loaded_at
FROM sources
ORDER BY source_id
