// The request record (RenderRequest, the parameter table, Provenance, prompt syntax, references)
// moved to RenderRecord, which has no numerics, so that the queue holds requests without the
// models; Pipelines re-exports it, so its users see those types where they always were.
@_exported import RenderRecord
