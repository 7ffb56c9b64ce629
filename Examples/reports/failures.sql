SELECT job_id, sweep_id, attempts, error, updated_at FROM v_jobs WHERE state = 'failed' ORDER BY job_id;
