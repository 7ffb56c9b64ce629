import Foundation

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

    /// The kind a model's own scheduler config names (its `_class_name`), which a request without
    /// `--scheduler` renders with: the one kind of that diffusers class (DPMSolverMultistep as
    /// `dpmpp-2m`, its Karras sigmas coming from the config); an unknown or absent class, Euler.
    public init(modelClass className: String?) {
        self = SchedulerKind.allCases.first { $0.diffusersClass == className && $0 != .dpmpp2mKarras } ?? .euler
    }

    public init(name: String) throws {
        guard let k = SchedulerKind(rawValue: name.lowercased()) else { throw SchedulerError.unknownScheduler(name) }
        self = k
    }

    /// The schedulers whose `step` takes diffusers' `eta`.
    public static let takingEta: [SchedulerKind] = [.ddim, .tcd]
    /// The schedulers whose `set_timesteps` takes a `strength`.
    public static let takingStrength: [SchedulerKind] = [.lcm, .tcd]
}
