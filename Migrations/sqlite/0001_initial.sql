-- Kiln render queue, schema version 1.
CREATE TABLE sweeps (
    sweep_id    INTEGER PRIMARY KEY,
    name        TEXT,
    spec        TEXT NOT NULL,                 -- the sweep specification as submitted (JSON)
    paused      INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE jobs (
    job_id           INTEGER PRIMARY KEY,
    sweep_id         INTEGER REFERENCES sweeps(sweep_id),
    model            TEXT NOT NULL,            -- model path as given
    config           TEXT,                     -- config folder for single-file checkpoints
    request          TEXT NOT NULL,            -- RenderRequest as JSON
    priority         INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    step             INTEGER NOT NULL DEFAULT 0,
    steps            INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,   -- times claimed by a worker
    failures         INTEGER NOT NULL DEFAULT 0,   -- renders that ended in an error
    max_attempts     INTEGER NOT NULL DEFAULT 3,   -- failures allowed before the job stays failed
    not_before       REAL NOT NULL DEFAULT 0,  -- unix seconds; retry backoff
    lease_owner      TEXT,
    lease_expires    REAL,                     -- unix seconds
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    error            TEXT,
    step_seconds     TEXT NOT NULL DEFAULT '[]', -- JSON array of measured step times
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX jobs_ready ON jobs (state, priority DESC, job_id);
CREATE INDEX jobs_sweep ON jobs (sweep_id);

CREATE TABLE checkpoints (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs(job_id) ON DELETE CASCADE,
    stage       TEXT NOT NULL,                 -- 'base' or 'refiner'
    step        INTEGER NOT NULL,
    state       BLOB NOT NULL,                 -- DenoiseState (latents, scheduler, generator)
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE queue_state (
    key    TEXT PRIMARY KEY,                   -- 'paused' = '1' pauses every claim
    value  TEXT NOT NULL
) STRICT;

CREATE TABLE blobs (
    sha256  TEXT PRIMARY KEY,
    data    BLOB NOT NULL
) STRICT;

CREATE TABLE outputs (
    output_id        INTEGER PRIMARY KEY,
    job_id           INTEGER NOT NULL REFERENCES jobs(job_id),
    image_index      INTEGER NOT NULL,
    png_sha256       TEXT NOT NULL,
    png              BLOB,                     -- the image, when kept in the database
    output_path      TEXT,                     -- the image, when written to a folder
    provenance       TEXT NOT NULL,            -- full JSON provenance (also in the PNG)
    watermark_written TEXT,
    watermark_read   TEXT,
    render_seconds   REAL NOT NULL,
    worker           TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (job_id, image_index)
) STRICT;

CREATE VIEW v_jobs AS
SELECT job_id, sweep_id, state, step, steps, attempts, priority, error, created_at, updated_at,
       model, lease_owner AS worker, json_extract(request, '$.prompt') AS prompt,
       json_extract(request, '$.seed') AS seed
FROM jobs;

CREATE VIEW v_outputs AS
SELECT o.output_id, o.job_id, j.sweep_id, o.image_index,
       json_extract(o.provenance, '$.seed') AS seed,
       json_extract(o.provenance, '$.request.prompt') AS prompt,
       json_extract(o.provenance, '$.request.prompt2') AS prompt_2,
       json_extract(o.provenance, '$.request.negativePrompt') AS negative_prompt,
       json_extract(o.provenance, '$.request.negativePrompt2') AS negative_prompt_2,
       json_extract(o.provenance, '$.scheduler') AS scheduler,
       json_extract(o.provenance, '$.schedulerConfig') AS scheduler_config,
       json_extract(o.provenance, '$.request.steps') AS steps,
       json_extract(o.provenance, '$.request.guidance') AS guidance,
       json_extract(o.provenance, '$.request.guidanceRescale') AS guidance_rescale,
       json_extract(o.provenance, '$.request.clipSkip') AS clip_skip,
       json_extract(o.provenance, '$.width') AS width,
       json_extract(o.provenance, '$.height') AS height,
       json_extract(o.provenance, '$.model') AS model,
       json_extract(o.provenance, '$.modelHash') AS model_hash,
       o.output_path, o.png_sha256 AS output_sha256,
       o.watermark_written AS watermark_bits, o.watermark_read,
       json_extract(o.provenance, '$.request.originalSize') AS original_size,
       json_extract(o.provenance, '$.request.cropTopLeft') AS crop_top_left,
       json_extract(o.provenance, '$.request.targetSize') AS target_size,
       o.render_seconds, j.step_seconds, o.worker, o.attempt, o.provenance, o.created_at
FROM outputs o JOIN jobs j USING (job_id);
