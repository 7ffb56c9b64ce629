import Foundation

/// One value of `--scheduler-config KEY=VALUE`, typed as diffusers' `from_config(config, KEY=VALUE)`
/// keyword would be: `true`/`false`, a number, or text.
public enum SchedulerConfigValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case bool(Bool), number(Double), string(String)

    /// `true`/`false` are booleans, finite numbers numbers, anything else text.
    public init(text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "true" || t == "false" { self = .bool(t == "true") } else if let n = Double(t), n.isFinite { self = .number(n) } else { self = .string(t) }
    }

    public var description: String {
        switch self {
        case .bool(let b): return String(b)
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .string(let s): return s
        }
    }

    /// The value as a config file holds it.
    public var configValue: any Sendable {
        switch self {
        case .bool(let b): return b
        case .number(let n): return n
        case .string(let s): return s
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let n = try? c.decode(Double.self) { self = .number(n) } else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        }
    }
}

/// `--scheduler-config` entries, `KEY=VALUE`, as one text: `k=v;k2=v2`, sorted by key.
public enum SchedulerOverrides {
    /// Parses `KEY=VALUE` entries (several may be joined with `;`); the message names what is wrong.
    public static func parse(_ text: String) throws -> [String: SchedulerConfigValue] {
        var out: [String: SchedulerConfigValue] = [:]
        for part in text.split(separator: ";") {
            let entry = part.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex, entry.index(after: eq) != entry.endIndex else {
                throw SchedulerError.invalidSchedule("'\(entry)' must be KEY=VALUE, like timestep_spacing=trailing")
            }
            let key = String(entry[..<eq]).trimmingCharacters(in: .whitespaces)
            guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw SchedulerError.invalidSchedule("'\(key)' is not a scheduler config key (keys are like timestep_spacing)")
            }
            out[key] = SchedulerConfigValue(text: String(entry[entry.index(after: eq)...]))
        }
        return out
    }

    /// The entries as one text, `k=v;k2=v2` sorted by key (nil when there are none).
    public static func text(_ values: [String: SchedulerConfigValue]) -> String? {
        values.isEmpty ? nil : values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: ";")
    }
}

extension SchedulerKind {
    /// The keyword arguments of the diffusers class's `__init__` (diffusers 0.42.1): the keys
    /// `from_config` reads for it, and the only keys `--scheduler-config` accepts for it.
    public var configKeys: [String] {
        let common = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type"]
        switch self {
        case .euler:
            return common + ["interpolation_type", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "sigma_min", "sigma_max",
                             "timestep_spacing", "timestep_type", "steps_offset", "rescale_betas_zero_snr", "final_sigmas_type"]
        case .eulerAncestral: return common + ["timestep_spacing", "steps_offset", "rescale_betas_zero_snr"]
        case .ddim:
            return common + ["clip_sample", "set_alpha_to_one", "steps_offset", "thresholding", "dynamic_thresholding_ratio", "clip_sample_range",
                             "sample_max_value", "timestep_spacing", "rescale_betas_zero_snr"]
        case .dpmpp2m, .dpmpp2mKarras:
            return common + ["solver_order", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "algorithm_type", "solver_type",
                             "lower_order_final", "euler_at_final", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas",
                             "use_flow_sigmas", "flow_shift", "final_sigmas_type", "lambda_min_clipped", "variance_type", "timestep_spacing",
                             "steps_offset", "rescale_betas_zero_snr", "use_dynamic_shifting", "time_shift_type"]
        case .heun:
            return common + ["use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "clip_sample", "clip_sample_range",
                             "timestep_spacing", "steps_offset"]
        case .lms: return common + ["use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "timestep_spacing", "steps_offset"]
        case .unipc:
            return common + ["solver_order", "thresholding", "dynamic_thresholding_ratio", "sample_max_value", "predict_x0", "solver_type",
                             "lower_order_final", "disable_corrector", "solver_p", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
                             "use_flow_sigmas", "flow_shift", "timestep_spacing", "steps_offset", "final_sigmas_type", "rescale_betas_zero_snr",
                             "use_dynamic_shifting", "time_shift_type", "sigma_min", "sigma_max", "shift_terminal"]
        case .lcm, .tcd:
            return common + ["original_inference_steps", "clip_sample", "clip_sample_range", "set_alpha_to_one", "steps_offset", "thresholding",
                             "dynamic_thresholding_ratio", "sample_max_value", "timestep_spacing", "timestep_scaling", "rescale_betas_zero_snr"]
        }
    }

    /// The schedulers whose `set_timesteps` takes custom `timesteps` (diffusers 0.42.1).
    public static let takingTimesteps: [SchedulerKind] = [.euler, .dpmpp2m, .heun, .lcm, .tcd]
    /// The schedulers whose `set_timesteps` takes custom `sigmas` for SDXL (UniPC's takes them
    /// only with `use_flow_sigmas`, for flow-matching models).
    public static let takingSigmas: [SchedulerKind] = [.euler]

    /// Refuses a key the class does not read, naming those it does.
    public func checkConfigKeys(_ overrides: [String: SchedulerConfigValue]) throws {
        for key in overrides.keys.sorted() where !configKeys.contains(key) {
            throw SchedulerError.unknownConfigKey(key: key, scheduler: rawValue, className: diffusersClass, keys: configKeys)
        }
    }

    /// The model's scheduler config with `overrides` in place, as `from_config(config, **overrides)`
    /// sees it; a key the class does not read is refused. The path names the option for messages.
    public func configured(_ file: ConfigFile, overrides: [String: SchedulerConfigValue]) throws -> ConfigFile {
        guard !overrides.isEmpty else { return file }
        try checkConfigKeys(overrides)
        var values = file.values
        for (k, v) in overrides { values[k] = v.configValue }
        return ConfigFile(path: "\(file.path) with --scheduler-config", values: values)
    }
}

/// Custom schedules (`set_timesteps(timesteps=)` and `sigmas=`), checked before any scheduler uses them.
public enum CustomSchedule {
    /// Timesteps must be strictly descending training timesteps, `0 ..< trainTimesteps` when known.
    public static func checkTimesteps(_ ts: [Int], trainTimesteps: Int? = nil) throws {
        func fail(_ why: String) -> SchedulerError { .invalidSchedule("timesteps \(ts.map(String.init).joined(separator: ",")): \(why)") }
        guard !ts.isEmpty else { throw SchedulerError.invalidSchedule("timesteps: give at least one, like 999,759,499,259") }
        guard ts.count <= 1000 else { throw fail("at most 1000 are allowed") }
        for i in 1..<max(ts.count, 1) where ts[i] == ts[i - 1] { throw fail("\(ts[i]) is repeated; each timestep may appear once") }
        for i in 1..<max(ts.count, 1) where ts[i] > ts[i - 1] { throw fail("must be in descending order (\(ts[i - 1]) comes before \(ts[i]))") }
        if let bad = ts.first(where: { $0 < 0 }) { throw fail("\(bad) is below 0, outside the training range") }
        if let n = trainTimesteps, let bad = ts.first(where: { $0 >= n }) {
            throw fail("\(bad) is outside the model's training range 0...\(n - 1)")
        }
    }

    /// Sigmas: at least two (the last is the final noise level, usually 0), finite, non-negative,
    /// strictly descending.
    public static func checkSigmas(_ sigmas: [Double]) throws {
        func fail(_ why: String) -> SchedulerError { .invalidSchedule("sigmas \(sigmas.map { String($0) }.joined(separator: ",")): \(why)") }
        guard sigmas.count >= 2 else { throw fail("give at least two, the last the final noise level (usually 0), like 14.6,3.0,0") }
        guard sigmas.count <= 1001 else { throw fail("at most 1001 are allowed") }
        guard sigmas.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw fail("must be finite and not negative") }
        for i in 1..<sigmas.count where sigmas[i] >= sigmas[i - 1] {
            throw fail(sigmas[i] == sigmas[i - 1] ? "\(sigmas[i]) is repeated" : "must be in descending order (\(sigmas[i - 1]) comes before \(sigmas[i]))")
        }
    }
}
