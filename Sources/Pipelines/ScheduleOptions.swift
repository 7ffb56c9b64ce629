import Foundation
import ModelFiles
import Schedulers

/// `--scheduler-config`, `--timesteps` and `--sigmas` against the model's scheduler config before a
/// job is enqueued or rendered (the class it builds, its training range); what the request alone
/// decides is checked by `validate()` (RenderRecord's `ScheduleValidation.swift`).
extension RenderRequest {
    /// Builds every stage's scheduler from the model's (and refiner's) scheduler config as the
    /// render will, so a key the model's scheduler class lacks, a timestep outside its training
    /// range or a schedule its class refuses is one line before anything is enqueued. A model
    /// whose config files cannot be read here is left to the worker.
    public func checkSchedule(model: ModelReference) throws {
        try RenderRequest.checkSchedules([self], model: model)
    }

    /// `checkSchedule(model:)` for a sweep's requests, each model's scheduler config read once.
    public static func checkSchedules(_ requests: [RenderRequest], model: ModelReference) throws {
        var configs: [String: ConfigFile?] = [:]
        for request in requests {
            for plan in StagePlan.stages(for: request, model: model) {
                let key = plan.model.path + "\u{0}" + (plan.model.config ?? "")
                if configs[key] == nil { configs[key] = .some((try? ModelShape(plan.model))?.schedulerConfig) }
                guard let config = configs[key] ?? nil else { continue }
                _ = try StageSchedule(plan: plan, request: request, schedulerConfig: config)
            }
        }
    }
}
