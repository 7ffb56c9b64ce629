-- Kiln render queue, schema version 3: who holds a lease, and what kind of failure a job had.
-- A worker records its host name and process id with its lease, so that a worker on the same
-- host takes over a job whose process is gone without waiting for the lease to expire.
-- error_kind says whether the last error can succeed on a retry ('transient': out of memory,
-- disk full, database busy) or not ('permanent': invalid request, missing or corrupt model
-- file, unreadable input; the job fails at once).
ALTER TABLE jobs ADD COLUMN lease_host TEXT;
ALTER TABLE jobs ADD COLUMN lease_pid INTEGER;
ALTER TABLE jobs ADD COLUMN error_kind TEXT CHECK (error_kind IN ('permanent', 'transient'));

-- 0002's v_jobs with error_kind added.
DROP VIEW v_jobs;
CREATE VIEW v_jobs AS
SELECT job_id, sweep_id, state, step, steps, attempts, priority, error, created_at, updated_at,
       model, lease_owner AS worker, json_extract(request, '$.prompt') AS prompt,
       json_extract(request, '$.seed') AS seed,
       json_extract(request, '$.refiner') AS refiner,
       (SELECT stage FROM checkpoints c WHERE c.job_id = jobs.job_id) AS stage,
       error_kind
FROM jobs;
