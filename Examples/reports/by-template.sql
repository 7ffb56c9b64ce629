SELECT prompt_template, seed, COUNT(*) AS expansions,
       COUNT(DISTINCT output_sha256) AS distinct_images,
       MIN(prompt) AS first_prompt, MAX(prompt) AS last_prompt,
       ROUND(AVG(render_seconds), 3) AS mean_seconds
FROM v_outputs
WHERE prompt_template IS NOT NULL
GROUP BY prompt_template, seed
ORDER BY prompt_template, seed;
