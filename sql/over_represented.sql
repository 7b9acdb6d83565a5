-- ot_vs_pt: codes most over-represented in one provider cohort ($lead) against
-- another ($other) in a period. Each side's share is of that cohort's own total;
-- ratio = lead share / other share (NULL when the other cohort never billed the
-- code). The list is ordered by the gap in percentage points (lead share minus other
-- share): by ratio, a code billed a handful of times by the lead cohort and never by
-- the other would outrank one that fills 6% of the lead's work against 1% of the
-- other's. Codes under $min_share_pct of the lead cohort are left out, and so are
-- codes whose ratio is under $min_ratio: the big shared codes (97110 at 33% against
-- 30%) have a gap in points but are not what sets the cohorts apart.
WITH by_code AS (
    SELECT hcpcs_code AS code,
           CAST(COALESCE(SUM(procedures) FILTER (WHERE cohort = $lead), 0) AS BIGINT) AS lead_procedures,
           CAST(COALESCE(SUM(procedures) FILTER (WHERE cohort = $other), 0) AS BIGINT) AS other_procedures
    FROM rollup_national
    WHERE cohort IN ($lead, $other)
      AND month BETWEEN $start AND $end
    GROUP BY hcpcs_code
),
shares AS (
    SELECT code,
           lead_procedures,
           other_procedures,
           100.0 * lead_procedures / SUM(lead_procedures) OVER () AS lead_share_pct,
           100.0 * other_procedures / SUM(other_procedures) OVER () AS other_share_pct
    FROM by_code
)
SELECT code,
       lead_procedures,
       other_procedures,
       lead_share_pct,
       other_share_pct,
       lead_share_pct / NULLIF(other_share_pct, 0) AS ratio
FROM shares
WHERE lead_share_pct >= $min_share_pct
  AND (other_share_pct = 0 OR lead_share_pct >= $min_ratio * other_share_pct)
ORDER BY lead_share_pct - other_share_pct DESC, code
LIMIT $n
