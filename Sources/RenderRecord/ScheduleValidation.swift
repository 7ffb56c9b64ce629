import Foundation
import KilnBasics

/// `--scheduler-config`, `--timesteps` and `--sigmas` as the request alone decides them (the
/// checks against the model's scheduler config are Pipelines' `checkSchedule(model:)`).
extension RenderRequest {
    /// The checks that need no model: custom schedules sorted, unique and in step with `steps`;
    /// config keys known to the chosen scheduler (any scheduler when the model's is used) with
    /// values its class accepts.
    func validateSchedule() throws {
        func bad(_ p: String, _ r: String) -> RenderError { .invalid(parameter: p, reason: r) }
        if timesteps != nil && sigmas != nil { throw bad("timesteps", "give --timesteps or --sigmas, not both") }
        if let ts = timesteps {
            do { try CustomSchedule.checkTimesteps(ts) } catch { throw bad("timesteps", "\(error)") }
            guard steps == ts.count else { throw bad("steps", "--timesteps gives \(ts.count) steps, not \(steps); drop --steps") }
            if let s = scheduler, !SchedulerKind.takingTimesteps.contains(s) {
                throw bad("timesteps", "scheduler \(s.rawValue) does not take them (schedulers that do: \(SchedulerKind.takingTimesteps.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        if let sigmas {
            do { try CustomSchedule.checkSigmas(sigmas) } catch { throw bad("sigmas", "\(error)") }
            guard steps == sigmas.count - 1 else { throw bad("steps", "--sigmas gives \(sigmas.count - 1) steps, not \(steps); drop --steps") }
            if let s = scheduler, !SchedulerKind.takingSigmas.contains(s) {
                throw bad("sigmas", "scheduler \(s.rawValue) does not take them (schedulers that do: \(SchedulerKind.takingSigmas.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        guard !schedulerConfig.isEmpty else { return }
        do {
            if let s = scheduler {
                try s.checkConfigKeys(schedulerConfig)
            } else {
                let known = Set(SchedulerKind.allCases.flatMap(\.configKeys))
                if let key = schedulerConfig.keys.sorted().first(where: { !known.contains($0) }) {
                    throw bad("scheduler-config", "no scheduler has a config key '\(key)' (keys: \(known.sorted().joined(separator: ", ")))")
                }
            }
            // The values alone, read as a config (defaults for the rest).
            let config = try SchedulerConfig(ConfigFile(path: "scheduler config", values: schedulerConfig.mapValues(\.configValue)))
            if scheduler == .eulerAncestral && config.prediction == .sample {
                throw bad("scheduler-config", "scheduler euler-a (EulerAncestralDiscreteScheduler) cannot take prediction_type=sample (diffusers has not implemented it); choose another scheduler")
            }
        } catch let error as RenderError {
            throw error
        } catch {
            throw bad("scheduler-config", "\(error)")
        }
    }
}
