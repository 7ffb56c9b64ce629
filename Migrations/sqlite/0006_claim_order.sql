-- Kiln render queue, schema version 6: the claim's order as an index of the jobs a claim can
-- take (queued or running), so a claim reads the first eligible entries in priority order
-- instead of sorting every ready job: its cost no longer grows with the queue's length.
-- Done, failed and cancelled jobs, the bulk of an old queue, are not in it.
CREATE INDEX jobs_claim_order ON jobs (priority DESC, job_id) WHERE state IN ('queued', 'running');
