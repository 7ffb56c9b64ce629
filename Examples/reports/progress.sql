SELECT sweep_id, COUNT(*) AS jobs, COUNT(CASE WHEN state = 'done' THEN 1 END) AS done,
       COUNT(CASE WHEN state = 'running' THEN 1 END) AS running, COUNT(CASE WHEN state = 'queued' THEN 1 END) AS queued,
       COUNT(CASE WHEN state = 'failed' THEN 1 END) AS failed
FROM v_jobs GROUP BY sweep_id ORDER BY sweep_id;
