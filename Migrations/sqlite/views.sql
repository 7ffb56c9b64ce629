-- Kiln render queue: the public views, v_jobs and v_outputs, defined once. Not a numbered
-- migration: after the numbered migrations (the tables), a writer that opens the queue drops and
-- creates these views, in the same transaction, whenever they differ from this file (the text
-- SQLite keeps in sqlite_master is compared). Change a column here, never in a numbered file.
-- Migrations/postgresql/views.sql defines the same columns in PostgreSQL's dialect.

-- Jobs with their request's prompt, seed and refiner, and the stage of their checkpoint.
CREATE VIEW v_jobs AS
SELECT job_id, sweep_id, state, step, steps, attempts, priority, error, created_at, updated_at,
       model, lease_owner AS worker, json_extract(request, '$.prompt') AS prompt,
       json_extract(request, '$.seed') AS seed,
       json_extract(request, '$.refiner') AS refiner,
       (SELECT stage FROM checkpoints c WHERE c.job_id = jobs.job_id) AS stage,
       error_kind,
       json_extract(request, '$.prompt_template') AS prompt_template
FROM jobs;

-- One row per image. Columns are the render parameters' names (RenderParameters: the option
-- --guidance-rescale is the column guidance_rescale), plus what was resolved and measured; the
-- provenance keys are Provenance.CodingKeys and RenderRequest.CodingKeys. A new render parameter
-- gets its column here and in Migrations/postgresql/views.sql (ViewColumnTests checks both).
CREATE VIEW v_outputs AS
SELECT o.output_id, o.job_id, j.sweep_id, o.image_index,
       json_extract(o.provenance, '$.seed') AS seed,
       json_extract(o.provenance, '$.request.prompt') AS prompt,
       json_extract(o.provenance, '$.request.prompt_2') AS prompt_2,
       json_extract(o.provenance, '$.request.negative_prompt') AS negative_prompt,
       json_extract(o.provenance, '$.request.negative_prompt_2') AS negative_prompt_2,
       json_extract(o.provenance, '$.scheduler') AS scheduler,
       json_extract(o.provenance, '$.schedulerConfig') AS scheduler_config,
       json_extract(o.provenance, '$.request.eta') AS eta,
       json_extract(o.provenance, '$.request.num_inference_steps') AS steps,
       COALESCE(json_extract(o.provenance, '$.guidance'), json_extract(o.provenance, '$.request.guidance_scale')) AS guidance,
       json_extract(o.provenance, '$.request.guidance_rescale') AS guidance_rescale,
       json_extract(o.provenance, '$.request.clip_skip') AS clip_skip,
       json_extract(o.provenance, '$.width') AS width,
       json_extract(o.provenance, '$.height') AS height,
       json_extract(o.provenance, '$.model') AS model,
       json_extract(o.provenance, '$.modelHash') AS model_hash,
       o.output_path, o.png_sha256 AS output_sha256,
       o.watermark_written AS watermark_bits, o.watermark_read,
       json_extract(o.provenance, '$.request.original_size') AS original_size,
       json_extract(o.provenance, '$.request.crops_coords_top_left') AS crop_top_left,
       json_extract(o.provenance, '$.request.target_size') AS target_size,
       json_extract(o.provenance, '$.request.negative_original_size') AS negative_original_size,
       json_extract(o.provenance, '$.request.negative_crops_coords_top_left') AS negative_crop_top_left,
       json_extract(o.provenance, '$.request.negative_target_size') AS negative_target_size,
       json_extract(o.provenance, '$.request.num_images_per_prompt') AS images,
       COALESCE(json_extract(o.provenance, '$.mode'), 'text-to-image') AS mode,
       json_extract(o.provenance, '$.strength') AS strength,
       json_extract(o.provenance, '$.request.denoising_start') AS denoising_start,
       json_extract(o.provenance, '$.request.denoising_end') AS denoising_end,
       json_extract(o.provenance, '$.request.aesthetic_score') AS aesthetic_score,
       json_extract(o.provenance, '$.request.negative_aesthetic_score') AS negative_aesthetic_score,
       json_extract(o.provenance, '$.refiner') AS refiner,
       json_extract(o.provenance, '$.refinerHash') AS refiner_hash,
       json_extract(o.provenance, '$.request.refiner_config') AS refiner_config,
       json_extract(o.provenance, '$.request.high_noise_frac') AS high_noise_frac,
       json_extract(o.provenance, '$.request.refine_after') AS refine_after,
       json_extract(o.provenance, '$.request.refiner_strength') AS refiner_strength,
       json_extract(o.provenance, '$.request.image.file') AS image,
       json_extract(o.provenance, '$.request.image.sha256') AS image_sha256,
       json_extract(o.provenance, '$.request.mask_image.file') AS mask,
       json_extract(o.provenance, '$.request.mask_image.sha256') AS mask_sha256,
       json_extract(o.provenance, '$.request.padding_mask_crop') AS padding_mask_crop,
       json_extract(o.provenance, '$.request.latents.file') AS latents,
       json_extract(o.provenance, '$.request.latents.sha256') AS latents_sha256,
       COALESCE(json_extract(o.provenance, '$.request.watermark'), 1) AS watermark,
       COALESCE(json_extract(o.provenance, '$.request.vae_tiling'), 0) AS vae_tiling,
       COALESCE(json_extract(o.provenance, '$.request.precision'), 'fp32') AS precision,
       json_extract(o.provenance, '$.request.loras') AS loras,
       json_extract(o.provenance, '$.request.embeddings') AS embeddings,
       o.render_seconds, j.step_seconds, o.worker, o.attempt, o.provenance, o.created_at,
       json_extract(o.provenance, '$.modelRepo') AS model_repo,
       json_extract(o.provenance, '$.modelCommit') AS model_commit,
       json_extract(o.provenance, '$.request.prompt_template') AS prompt_template,
       json_extract(o.provenance, '$.request.vae.file') AS vae,
       json_extract(o.provenance, '$.request.vae.sha256') AS vae_sha256,
       json_extract(o.provenance, '$.request.unet.file') AS unet,
       json_extract(o.provenance, '$.request.unet.sha256') AS unet_sha256,
       COALESCE(json_extract(o.provenance, '$.request.prompt_weighting'), 'none') AS prompt_weighting,
       json_extract(o.provenance, '$.request.scheduler_config') AS scheduler_overrides,
       json_extract(o.provenance, '$.request.timesteps') AS timesteps,
       json_extract(o.provenance, '$.request.sigmas') AS sigmas,
       json_extract(o.provenance, '$.request.controlnet.controlnet') AS controlnet,
       json_extract(o.provenance, '$.request.controlnet.image') AS control_image,
       json_extract(o.provenance, '$.request.controlnet.controlnet_conditioning_scale') AS control_scale,
       json_extract(o.provenance, '$.request.controlnet.control_guidance_start') AS control_start,
       json_extract(o.provenance, '$.request.controlnet.control_guidance_end') AS control_end,
       COALESCE(json_extract(o.provenance, '$.request.controlnet.guess_mode'), 0) AS guess_mode,
       json_extract(o.provenance, '$.controlnetHashes') AS controlnet_hashes
FROM outputs o JOIN jobs j USING (job_id);
