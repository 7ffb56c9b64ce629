// config.json access, its errors, weight variants, regular-file checks and SHA-256 moved to
// KilnBasics (light: the queue and the gallery use them without Numerics); ModelFiles re-exports
// them, so its users see them where they always were.
@_exported import KilnBasics
