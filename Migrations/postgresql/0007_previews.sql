-- Kiln render queue, schema version 7: a running job's preview (`kiln work --preview-every N`),
-- a small PNG of its latents kept with its checkpoint, and the step it shows (counted over all
-- stages). Both NULL until a worker that makes previews saves one; a checkpoint saved without
-- a preview keeps the last one.
ALTER TABLE checkpoints ADD COLUMN preview bytea;
ALTER TABLE checkpoints ADD COLUMN preview_step integer;
