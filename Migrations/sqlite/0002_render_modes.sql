-- Kiln render queue, schema version 2: every render mode (image-to-image, inpainting, refiner).
-- Requests are stored with diffusers' argument names (RenderRequest version 2); version 1 rows are
-- rewritten here so that the views read one layout. Key renames work on the JSON text: inside
-- JSON strings every quote is escaped, so '"name":' only ever matches a key.

UPDATE jobs SET request = json_set(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(request, '"prompt2":', '"prompt_2":'), '"negativePrompt":', '"negative_prompt":'), '"negativePrompt2":', '"negative_prompt_2":'), '"steps":', '"num_inference_steps":'), '"guidance":', '"guidance_scale":'), '"guidanceRescale":', '"guidance_rescale":'), '"clipSkip":', '"clip_skip":'), '"originalSize":', '"original_size":'), '"cropTopLeft":', '"crops_coords_top_left":'), '"targetSize":', '"target_size":'), '"negativeOriginalSize":', '"negative_original_size":'), '"negativeCropTopLeft":', '"negative_crops_coords_top_left":'), '"negativeTargetSize":', '"negative_target_size":'), '"images":', '"num_images_per_prompt":'), '"denoisingEnd":', '"denoising_end":'), '$.version', 2)
WHERE json_extract(request, '$.version') IS NULL;

UPDATE outputs SET provenance = json_set(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(provenance, '"prompt2":', '"prompt_2":'), '"negativePrompt":', '"negative_prompt":'), '"negativePrompt2":', '"negative_prompt_2":'), '"steps":', '"num_inference_steps":'), '"guidance":', '"guidance_scale":'), '"guidanceRescale":', '"guidance_rescale":'), '"clipSkip":', '"clip_skip":'), '"originalSize":', '"original_size":'), '"cropTopLeft":', '"crops_coords_top_left":'), '"targetSize":', '"target_size":'), '"negativeOriginalSize":', '"negative_original_size":'), '"negativeCropTopLeft":', '"negative_crops_coords_top_left":'), '"negativeTargetSize":', '"negative_target_size":'), '"images":', '"num_images_per_prompt":'), '"denoisingEnd":', '"denoising_end":'), '$.request.version', 2)
WHERE json_extract(provenance, '$.request.version') IS NULL;

UPDATE jobs SET request = json_set(request, '$.original_size', json_array(json_extract(request, '$.original_size.height'), json_extract(request, '$.original_size.width')))
WHERE json_type(request, '$.original_size') = 'object';
UPDATE jobs SET request = json_set(request, '$.target_size', json_array(json_extract(request, '$.target_size.height'), json_extract(request, '$.target_size.width')))
WHERE json_type(request, '$.target_size') = 'object';
UPDATE jobs SET request = json_set(request, '$.negative_original_size', json_array(json_extract(request, '$.negative_original_size.height'), json_extract(request, '$.negative_original_size.width')))
WHERE json_type(request, '$.negative_original_size') = 'object';
UPDATE jobs SET request = json_set(request, '$.negative_target_size', json_array(json_extract(request, '$.negative_target_size.height'), json_extract(request, '$.negative_target_size.width')))
WHERE json_type(request, '$.negative_target_size') = 'object';
UPDATE jobs SET request = json_set(request, '$.crops_coords_top_left', json_array(json_extract(request, '$.crops_coords_top_left.top'), json_extract(request, '$.crops_coords_top_left.left')))
WHERE json_type(request, '$.crops_coords_top_left') = 'object';
UPDATE jobs SET request = json_set(request, '$.negative_crops_coords_top_left', json_array(json_extract(request, '$.negative_crops_coords_top_left.top'), json_extract(request, '$.negative_crops_coords_top_left.left')))
WHERE json_type(request, '$.negative_crops_coords_top_left') = 'object';
UPDATE outputs SET provenance = json_set(provenance, '$.request.original_size', json_array(json_extract(provenance, '$.request.original_size.height'), json_extract(provenance, '$.request.original_size.width')))
WHERE json_type(provenance, '$.request.original_size') = 'object';
UPDATE outputs SET provenance = json_set(provenance, '$.request.target_size', json_array(json_extract(provenance, '$.request.target_size.height'), json_extract(provenance, '$.request.target_size.width')))
WHERE json_type(provenance, '$.request.target_size') = 'object';
UPDATE outputs SET provenance = json_set(provenance, '$.request.negative_original_size', json_array(json_extract(provenance, '$.request.negative_original_size.height'), json_extract(provenance, '$.request.negative_original_size.width')))
WHERE json_type(provenance, '$.request.negative_original_size') = 'object';
UPDATE outputs SET provenance = json_set(provenance, '$.request.negative_target_size', json_array(json_extract(provenance, '$.request.negative_target_size.height'), json_extract(provenance, '$.request.negative_target_size.width')))
WHERE json_type(provenance, '$.request.negative_target_size') = 'object';
UPDATE outputs SET provenance = json_set(provenance, '$.request.crops_coords_top_left', json_array(json_extract(provenance, '$.request.crops_coords_top_left.top'), json_extract(provenance, '$.request.crops_coords_top_left.left')))
WHERE json_type(provenance, '$.request.crops_coords_top_left') = 'object';
UPDATE outputs SET provenance = json_set(provenance, '$.request.negative_crops_coords_top_left', json_array(json_extract(provenance, '$.request.negative_crops_coords_top_left.top'), json_extract(provenance, '$.request.negative_crops_coords_top_left.left')))
WHERE json_type(provenance, '$.request.negative_crops_coords_top_left') = 'object';

DROP VIEW v_jobs;
CREATE VIEW v_jobs AS
SELECT job_id, sweep_id, state, step, steps, attempts, priority, error, created_at, updated_at,
       model, lease_owner AS worker, json_extract(request, '$.prompt') AS prompt,
       json_extract(request, '$.seed') AS seed,
       json_extract(request, '$.refiner') AS refiner,
       (SELECT stage FROM checkpoints c WHERE c.job_id = jobs.job_id) AS stage
FROM jobs;

-- Columns are the render parameters' names (RenderParameters: the option --guidance-rescale is the
-- column guidance_rescale), plus what was resolved and measured.
DROP VIEW v_outputs;
CREATE VIEW v_outputs AS
SELECT o.output_id, o.job_id, j.sweep_id, o.image_index,
       json_extract(o.provenance, '$.seed') AS seed,
       json_extract(o.provenance, '$.request.prompt') AS prompt,
       json_extract(o.provenance, '$.request.prompt_2') AS prompt_2,
       json_extract(o.provenance, '$.request.negative_prompt') AS negative_prompt,
       json_extract(o.provenance, '$.request.negative_prompt_2') AS negative_prompt_2,
       json_extract(o.provenance, '$.scheduler') AS scheduler,
       json_extract(o.provenance, '$.schedulerConfig') AS scheduler_config,
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
       json_extract(o.provenance, '$.request.loras') AS loras,
       json_extract(o.provenance, '$.request.embeddings') AS embeddings,
       o.render_seconds, j.step_seconds, o.worker, o.attempt, o.provenance, o.created_at
FROM outputs o JOIN jobs j USING (job_id);
