import Foundation

/// What one stage ran with, for provenance: its role, model and the schedule it ran.
public struct StageRecord: Sendable, Codable, Equatable {
    public var role: String
    public var model: String
    public var modelHash: String
    public var mode: String
    public var scheduler: String
    public var schedulerClass: String
    public var steps: Int
    /// The strength it started at (image-to-image and inpainting without denoising_start).
    public var strength: Double?
    public var denoisingStart: Double?
    public var denoisingEnd: Double?

    public init(role: String, model: String, modelHash: String, mode: String, scheduler: String, schedulerClass: String, steps: Int,
                strength: Double?, denoisingStart: Double?, denoisingEnd: Double?) {
        self.role = role; self.model = model; self.modelHash = modelHash; self.mode = mode; self.scheduler = scheduler
        self.schedulerClass = schedulerClass; self.steps = steps; self.strength = strength
        self.denoisingStart = denoisingStart; self.denoisingEnd = denoisingEnd
    }
}
