SELECT scheduler, guidance, COUNT(*) AS images, ROUND(AVG(render_seconds), 3) AS mean_seconds
FROM v_outputs GROUP BY scheduler, guidance ORDER BY scheduler, guidance;
