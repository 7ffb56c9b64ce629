import Foundation
import ModelFiles
// SchedulerKind and the configs are KilnBasics' (the request names them without the numerics);
// re-exported for the modules that build schedulers.
@_exported import KilnBasics

extension SchedulerKind {
    /// Builds the scheduler for `steps` inference steps from the model's scheduler config, as
    /// `from_config(config, **overrides)` then `set_timesteps` would. Options that belong to the
    /// config's own class are kept only when the classes match, as `from_config` ignores keys
    /// another class does not know; an override the class does not read is refused. `eta` is the
    /// pipeline's (nil: its default, 0), `strength` that of `set_timesteps`, and `timesteps` or
    /// `sigmas` its custom schedule (`steps` is then ignored); a scheduler that would ignore any
    /// of them refuses it.
    public func make(config file: ConfigFile, steps: Int, eta: Double? = nil, strength: Double = 1,
                     overrides: [String: SchedulerConfigValue] = [:], timesteps: [Int]? = nil, sigmas: [Double]? = nil) throws -> any DiffusionScheduler {
        if eta != nil && !SchedulerKind.takingEta.contains(self) {
            throw SchedulerError.optionNotTaken(option: "eta", scheduler: rawValue, takenBy: SchedulerKind.takingEta.map(\.rawValue))
        }
        if strength != 1 && !SchedulerKind.takingStrength.contains(self) {
            throw SchedulerError.optionNotTaken(option: "strength", scheduler: rawValue, takenBy: SchedulerKind.takingStrength.map(\.rawValue))
        }
        if timesteps != nil && sigmas != nil { throw SchedulerError.invalidSchedule("give timesteps or sigmas, not both") }
        if timesteps != nil && !SchedulerKind.takingTimesteps.contains(self) {
            throw SchedulerError.optionNotTaken(option: "timesteps", scheduler: rawValue, takenBy: SchedulerKind.takingTimesteps.map(\.rawValue))
        }
        if sigmas != nil && !SchedulerKind.takingSigmas.contains(self) {
            let note = self == .unipc ? " (UniPC takes sigmas only with use_flow_sigmas, for flow-matching models)" : ""
            throw SchedulerError.invalidSchedule("scheduler '\(rawValue)' does not take sigmas\(note) (schedulers that do: \(SchedulerKind.takingSigmas.map(\.rawValue).joined(separator: ", "))); drop it or choose one of those")
        }
        let merged = try configured(file, overrides: overrides)
        var config = try SchedulerConfig(merged)
        // Keys this class has no argument for are ignored by from_config.
        if !configKeys.contains("rescale_betas_zero_snr") { config.rescaleBetasZeroSNR = false }
        if !configKeys.contains("final_sigmas_type") { config.finalSigmas = .zero }
        let sourceClass = (try? file.string("_class_name")) ?? ""
        // The class-specific options: the file's when it is this class's config, and the overrides.
        var own: [String: any Sendable] = sourceClass == diffusersClass ? file.values : [:]
        for (k, v) in overrides { own[k] = v.configValue }
        let specific = ConfigFile(path: merged.path, values: own)
        if diffusersClass == "DPMSolverMultistepScheduler" {
            try specific.require("algorithm_type", in: ["dpmsolver++", nil])
            try specific.require("solver_order", in: ["2", nil])
            try specific.require("solver_type", in: ["midpoint", nil])
            try specific.require("lower_order_final", in: ["true", nil])
            try specific.require("euler_at_final", in: ["false", nil])
            try specific.require("use_lu_lambdas", in: ["false", nil])
            try specific.require("lambda_min_clipped", in: [nil])
        }
        if diffusersClass == "UniPCMultistepScheduler" {
            try specific.require("solver_order", in: ["2", nil])
            try specific.require("solver_type", in: ["bh2", nil])
            try specific.require("predict_x0", in: ["true", nil])
            try specific.require("lower_order_final", in: ["true", nil])
            try specific.require("disable_corrector", in: ["[]", nil])
        }
        if self == .dpmpp2mKarras && overrides["use_karras_sigmas"] == .bool(false) {
            throw SchedulerError.invalidSchedule("scheduler 'dpmpp-2m-karras' is DPM-Solver with use_karras_sigmas=true; for use_karras_sigmas=false choose dpmpp-2m")
        }
        if self == .eulerAncestral && config.prediction == .sample {
            throw SchedulerError.invalidSchedule("scheduler 'euler-a' (EulerAncestralDiscreteScheduler) cannot take prediction_type=sample (diffusers has not implemented it); choose one of: \(SchedulerKind.allCases.filter { $0 != .eulerAncestral }.map(\.rawValue).joined(separator: ", "))")
        }
        if timesteps != nil || sigmas != nil {
            if let timesteps { try CustomSchedule.checkTimesteps(timesteps, trainTimesteps: config.trainTimesteps) }
            if let sigmas { try CustomSchedule.checkSigmas(sigmas) }
            if self == .dpmpp2mKarras || (config.useKarrasSigmas && [.euler, .dpmpp2m, .heun].contains(self)) {
                throw SchedulerError.invalidSchedule("scheduler '\(rawValue)' cannot take \(timesteps != nil ? "timesteps" : "sigmas") with Karras sigmas; drop use_karras_sigmas or the custom schedule")
            }
        }
        switch self {
        case .euler: return try EulerDiscreteScheduler(config: config, steps: steps, customTimesteps: timesteps, customSigmas: sigmas)
        case .eulerAncestral:
            config.useKarrasSigmas = false
            return try EulerAncestralScheduler(config: config, steps: steps)
        case .ddim: return try DDIMScheduler(config: config, steps: steps, eta: eta ?? 0)
        case .dpmpp2m: return try DPMSolverMultistepScheduler(config: config, steps: steps, karras: config.useKarrasSigmas, name: rawValue, customTimesteps: timesteps)
        case .dpmpp2mKarras: return try DPMSolverMultistepScheduler(config: config, steps: steps, karras: true, name: rawValue)
        case .heun: return try HeunDiscreteScheduler(config: config, steps: steps, customTimesteps: timesteps)
        case .lms: return try LMSDiscreteScheduler(config: config, steps: steps)
        case .unipc: return try UniPCMultistepScheduler(config: config, steps: steps)
        case .lcm: return try LCMScheduler(config: config, steps: steps, strength: strength, customTimesteps: timesteps)
        case .tcd: return try TCDScheduler(config: config, steps: steps, eta: eta ?? 0, strength: strength, customTimesteps: timesteps)
        }
    }
}
