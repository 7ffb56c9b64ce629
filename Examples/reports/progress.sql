SELECT sweep_id, COUNT(*) AS jobs, SUM(state = 'done') AS done, SUM(state = 'running') AS running,
       SUM(state = 'queued') AS queued, SUM(state = 'failed') AS failed
FROM v_jobs GROUP BY sweep_id ORDER BY sweep_id;
