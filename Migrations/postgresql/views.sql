-- Kiln render queue on PostgreSQL: the public views, v_jobs and v_outputs, defined once, with
-- the columns of Migrations/sqlite/views.sql. Not a numbered migration: after the numbered
-- migrations (the tables), a writer that opens the queue drops and creates these views, in the
-- same transaction, whenever they differ from this file (each view's comment holds the md5 of
-- the text it was made from). Change a column here, never in a numbered file.
-- JSON values are read with jsonb operators (provenance parsed once per row) and cast to their
-- natural types: numeric for JSON numbers that may have a fraction or exceed bigint (a JSON 5
-- prints 5, as SQLite's json_extract gives it), integer for counts and sizes, 0/1 for booleans.
-- Arrays and objects are their JSON text as Kiln wrote it (compact, `[480,640]`), read through
-- the json type, which keeps the text, as SQLite's json_extract returns it.

-- Jobs with their request's prompt, seed and refiner, and the stage of their checkpoint.
CREATE VIEW v_jobs AS
SELECT job_id, sweep_id, state, step, steps, attempts, priority, error, created_at, updated_at,
       model, lease_owner AS worker, request::jsonb ->> 'prompt' AS prompt,
       (request::jsonb ->> 'seed')::numeric AS seed,
       request::jsonb ->> 'refiner' AS refiner,
       (SELECT stage FROM checkpoints c WHERE c.job_id = jobs.job_id) AS stage,
       error_kind,
       request::jsonb ->> 'prompt_template' AS prompt_template,
       request::jsonb ->> 'prompt_2_template' AS prompt_2_template,
       request::jsonb ->> 'negative_prompt_template' AS negative_prompt_template,
       request::jsonb ->> 'negative_prompt_2_template' AS negative_prompt_2_template
FROM jobs;

-- One row per image. Columns are the render parameters' names (RenderParameters: the option
-- --guidance-rescale is the column guidance_rescale), plus what was resolved and measured; the
-- provenance keys are Provenance.CodingKeys and RenderRequest.CodingKeys. A new render parameter
-- gets its column here and in Migrations/sqlite/views.sql (ViewColumnTests checks both).
CREATE VIEW v_outputs AS
SELECT o.output_id, o.job_id, j.sweep_id, o.image_index,
       (p ->> 'seed')::numeric AS seed,
       r ->> 'prompt' AS prompt,
       r ->> 'prompt_2' AS prompt_2,
       r ->> 'negative_prompt' AS negative_prompt,
       r ->> 'negative_prompt_2' AS negative_prompt_2,
       p ->> 'scheduler' AS scheduler,
       p ->> 'schedulerConfig' AS scheduler_config,
       (r ->> 'eta')::numeric AS eta,
       (r ->> 'num_inference_steps')::integer AS steps,
       COALESCE(p ->> 'guidance', r ->> 'guidance_scale')::numeric AS guidance,
       (r ->> 'guidance_rescale')::numeric AS guidance_rescale,
       (r ->> 'clip_skip')::integer AS clip_skip,
       (p ->> 'width')::integer AS width,
       (p ->> 'height')::integer AS height,
       p ->> 'model' AS model,
       p ->> 'modelHash' AS model_hash,
       o.output_path, o.png_sha256 AS output_sha256,
       o.watermark_written AS watermark_bits, o.watermark_read,
       NULLIF((pj -> 'request' -> 'original_size')::text, 'null') AS original_size,
       NULLIF((pj -> 'request' -> 'crops_coords_top_left')::text, 'null') AS crop_top_left,
       NULLIF((pj -> 'request' -> 'target_size')::text, 'null') AS target_size,
       NULLIF((pj -> 'request' -> 'negative_original_size')::text, 'null') AS negative_original_size,
       NULLIF((pj -> 'request' -> 'negative_crops_coords_top_left')::text, 'null') AS negative_crop_top_left,
       NULLIF((pj -> 'request' -> 'negative_target_size')::text, 'null') AS negative_target_size,
       (r ->> 'num_images_per_prompt')::integer AS images,
       COALESCE(p ->> 'mode', 'text-to-image') AS mode,
       (p ->> 'strength')::numeric AS strength,
       (r ->> 'denoising_start')::numeric AS denoising_start,
       (r ->> 'denoising_end')::numeric AS denoising_end,
       (r ->> 'aesthetic_score')::numeric AS aesthetic_score,
       (r ->> 'negative_aesthetic_score')::numeric AS negative_aesthetic_score,
       p ->> 'refiner' AS refiner,
       p ->> 'refinerHash' AS refiner_hash,
       r ->> 'refiner_config' AS refiner_config,
       (r ->> 'high_noise_frac')::numeric AS high_noise_frac,
       (r ->> 'refine_after')::boolean::integer AS refine_after,
       (r ->> 'refiner_strength')::numeric AS refiner_strength,
       r -> 'image' ->> 'file' AS image,
       r -> 'image' ->> 'sha256' AS image_sha256,
       r -> 'mask_image' ->> 'file' AS mask,
       r -> 'mask_image' ->> 'sha256' AS mask_sha256,
       (r ->> 'padding_mask_crop')::integer AS padding_mask_crop,
       r -> 'latents' ->> 'file' AS latents,
       r -> 'latents' ->> 'sha256' AS latents_sha256,
       COALESCE((r ->> 'watermark')::boolean::integer, 1) AS watermark,
       COALESCE((r ->> 'vae_tiling')::boolean::integer, 0) AS vae_tiling,
       COALESCE(r ->> 'precision', 'fp32') AS precision,
       NULLIF((pj -> 'request' -> 'loras')::text, 'null') AS loras,
       NULLIF((pj -> 'request' -> 'embeddings')::text, 'null') AS embeddings,
       o.render_seconds, j.step_seconds, o.worker, o.attempt, o.provenance, o.created_at,
       p ->> 'modelRepo' AS model_repo,
       p ->> 'modelCommit' AS model_commit,
       r ->> 'prompt_template' AS prompt_template,
       r -> 'vae' ->> 'file' AS vae,
       r -> 'vae' ->> 'sha256' AS vae_sha256,
       r -> 'unet' ->> 'file' AS unet,
       r -> 'unet' ->> 'sha256' AS unet_sha256,
       COALESCE(r ->> 'prompt_weighting', 'none') AS prompt_weighting,
       NULLIF((pj -> 'request' -> 'scheduler_config')::text, 'null') AS scheduler_overrides,
       NULLIF((pj -> 'request' -> 'timesteps')::text, 'null') AS timesteps,
       NULLIF((pj -> 'request' -> 'sigmas')::text, 'null') AS sigmas,
       NULLIF((pj -> 'request' -> 'controlnet' -> 'controlnet')::text, 'null') AS controlnet,
       NULLIF((pj -> 'request' -> 'controlnet' -> 'image')::text, 'null') AS control_image,
       NULLIF((pj -> 'request' -> 'controlnet' -> 'controlnet_conditioning_scale')::text, 'null') AS control_scale,
       NULLIF((pj -> 'request' -> 'controlnet' -> 'control_guidance_start')::text, 'null') AS control_start,
       NULLIF((pj -> 'request' -> 'controlnet' -> 'control_guidance_end')::text, 'null') AS control_end,
       COALESCE((r -> 'controlnet' ->> 'guess_mode')::boolean::integer, 0) AS guess_mode,
       NULLIF((pj -> 'controlnetHashes')::text, 'null') AS controlnet_hashes,
       r ->> 'prompt_2_template' AS prompt_2_template,
       r ->> 'negative_prompt_template' AS negative_prompt_template,
       r ->> 'negative_prompt_2_template' AS negative_prompt_2_template,
       COALESCE(r ->> 'variant', 'auto') AS variant
FROM outputs o JOIN jobs j USING (job_id),
     LATERAL (SELECT o.provenance::jsonb AS p, o.provenance::jsonb -> 'request' AS r, o.provenance::json AS pj OFFSET 0) parsed;
