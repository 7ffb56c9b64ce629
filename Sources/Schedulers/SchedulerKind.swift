import Foundation
import ModelFiles

/// The scheduler names Kiln accepts, each mapped to the diffusers class (and options) that
/// `SchedulerClass.from_config(pipeline.scheduler.config, ...)` would build.
public enum SchedulerKind: String, Sendable, CaseIterable, Codable {
    case euler
    case eulerAncestral = "euler-a"
    case ddim
    case dpmpp2m = "dpmpp-2m"
    case dpmpp2mKarras = "dpmpp-2m-karras"
    case heun
    case lms
    case unipc
    case lcm
    case tcd

    /// The diffusers class name, for provenance.
    public var diffusersClass: String {
        switch self {
        case .euler: return "EulerDiscreteScheduler"
        case .eulerAncestral: return "EulerAncestralDiscreteScheduler"
        case .ddim: return "DDIMScheduler"
        case .dpmpp2m, .dpmpp2mKarras: return "DPMSolverMultistepScheduler"
        case .heun: return "HeunDiscreteScheduler"
        case .lms: return "LMSDiscreteScheduler"
        case .unipc: return "UniPCMultistepScheduler"
        case .lcm: return "LCMScheduler"
        case .tcd: return "TCDScheduler"
        }
    }

    public init(name: String) throws {
        guard let k = SchedulerKind(rawValue: name.lowercased()) else { throw SchedulerError.unknownScheduler(name) }
        self = k
    }

    /// The schedulers whose `step` takes diffusers' `eta`.
    public static let takingEta: [SchedulerKind] = [.ddim, .tcd]
    /// The schedulers whose `set_timesteps` takes a `strength`.
    public static let takingStrength: [SchedulerKind] = [.lcm, .tcd]

    /// Builds the scheduler for `steps` inference steps from the model's scheduler config.
    /// Options that belong to the config's own class are kept only when the classes match,
    /// as `from_config` ignores keys another class does not know. `eta` is the pipeline's
    /// (nil: its default, 0) and `strength` that of `set_timesteps`; a scheduler that would
    /// ignore either refuses it.
    public func make(config file: ConfigFile, steps: Int, eta: Double? = nil, strength: Double = 1) throws -> any DiffusionScheduler {
        if eta != nil && !SchedulerKind.takingEta.contains(self) {
            throw SchedulerError.optionNotTaken(option: "eta", scheduler: rawValue, takenBy: SchedulerKind.takingEta.map(\.rawValue))
        }
        if strength != 1 && !SchedulerKind.takingStrength.contains(self) {
            throw SchedulerError.optionNotTaken(option: "strength", scheduler: rawValue, takenBy: SchedulerKind.takingStrength.map(\.rawValue))
        }
        var config = try SchedulerConfig(file)
        let sourceClass = (try? file.string("_class_name")) ?? ""
        if sourceClass == diffusersClass && diffusersClass == "DPMSolverMultistepScheduler" {
            try file.require("algorithm_type", in: ["dpmsolver++", nil])
            try file.require("solver_order", in: ["2", nil])
            try file.require("solver_type", in: ["midpoint", nil])
            try file.require("final_sigmas_type", in: ["zero", nil])
            try file.require("lower_order_final", in: ["true", nil])
            try file.require("euler_at_final", in: ["false", nil])
            try file.require("use_lu_lambdas", in: ["false", nil])
            try file.require("lambda_min_clipped", in: [nil])
        }
        if sourceClass == diffusersClass && diffusersClass == "UniPCMultistepScheduler" {
            try file.require("solver_order", in: ["2", nil])
            try file.require("solver_type", in: ["bh2", nil])
            try file.require("predict_x0", in: ["true", nil])
            try file.require("lower_order_final", in: ["true", nil])
            try file.require("final_sigmas_type", in: ["zero", nil])
            try file.require("use_flow_sigmas", in: ["false", nil])
        }
        switch self {
        case .euler: return try EulerDiscreteScheduler(config: config, steps: steps)
        case .eulerAncestral:
            config.useKarrasSigmas = false
            return try EulerAncestralScheduler(config: config, steps: steps)
        case .ddim: return try DDIMScheduler(config: config, steps: steps, eta: eta ?? 0)
        case .dpmpp2m: return try DPMSolverMultistepScheduler(config: config, steps: steps, karras: config.useKarrasSigmas, name: rawValue)
        case .dpmpp2mKarras: return try DPMSolverMultistepScheduler(config: config, steps: steps, karras: true, name: rawValue)
        case .heun: return try HeunDiscreteScheduler(config: config, steps: steps)
        case .lms: return try LMSDiscreteScheduler(config: config, steps: steps)
        case .unipc: return try UniPCMultistepScheduler(config: config, steps: steps)
        case .lcm: return try LCMScheduler(config: config, steps: steps, strength: strength)
        case .tcd: return try TCDScheduler(config: config, steps: steps, eta: eta ?? 0, strength: strength)
        }
    }
}
