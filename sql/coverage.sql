-- coverage: what the database holds, one row per loaded source (demo build or file).
SELECT source_id,
       name,
       kind,
       first_date,
       last_date,
       rows_read,
       rows_loaded,
       rows_rejected,
       loaded_at
FROM sources
ORDER BY source_id
