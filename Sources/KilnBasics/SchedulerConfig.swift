import Foundation

/// The options of a diffusers scheduler config that change the numbers, with diffusers'
/// defaults. Unsupported values are refused with the key named.
public struct SchedulerConfig: Sendable, Equatable, Codable {
    public enum BetaSchedule: String, Sendable, Codable { case linear, scaledLinear = "scaled_linear", squaredCosine = "squaredcos_cap_v2" }
    public enum Prediction: String, Sendable, Codable { case epsilon, vPrediction = "v_prediction", sample }
    public enum Spacing: String, Sendable, Codable { case linspace, leading, trailing }
    /// `final_sigmas_type`: the noise level after the last step.
    public enum FinalSigmas: String, Sendable, Codable { case zero, sigmaMin = "sigma_min" }

    public var trainTimesteps: Int = 1000
    public var betaStart: Double = 0.0001
    public var betaEnd: Double = 0.02
    public var betaSchedule: BetaSchedule = .linear
    public var prediction: Prediction = .epsilon
    public var spacing: Spacing = .linspace
    public var stepsOffset: Int = 0
    public var useKarrasSigmas: Bool = false
    /// `rescale_betas_zero_snr`: betas rescaled to zero terminal SNR (the schedulers that read it).
    public var rescaleBetasZeroSNR: Bool = false
    /// Euler, DPM-Solver and UniPC: `final_sigmas_type`.
    public var finalSigmas: FinalSigmas = .zero
    /// DDIM: `set_alpha_to_one`, `clip_sample`, `clip_sample_range`.
    public var setAlphaToOne: Bool = true
    /// nil: the scheduler class default (DDIM clips, Heun does not).
    public var clipSample: Bool? = nil
    public var clipSampleRange: Double = 1
    /// LCM and TCD: the distillation schedule's step count (`original_inference_steps`); nil only
    /// when the config sets it to null, which TCD reads as every training timestep.
    public var originalInferenceSteps: Int? = 50
    /// LCM: `timestep_scaling` of the boundary-condition scalings.
    public var timestepScaling: Double = 10
    /// Where the config came from, for messages.
    public var source: String = "scheduler config"

    public init() {}

    /// Reads the fields every scheduler shares from `scheduler/scheduler_config.json`.
    public init(_ c: ConfigFile) throws {
        source = c.path
        trainTimesteps = try c.int("num_train_timesteps", default: 1000)
        betaStart = try c.double("beta_start", default: 0.0001)
        betaEnd = try c.double("beta_end", default: 0.02)
        let schedule = try c.choice("beta_schedule", default: "linear", allowed: ["linear", "scaled_linear", "squaredcos_cap_v2"])
        betaSchedule = BetaSchedule(rawValue: schedule)!
        prediction = Prediction(rawValue: try c.choice("prediction_type", default: "epsilon", allowed: ["epsilon", "v_prediction", "sample"]))!
        spacing = Spacing(rawValue: try c.choice("timestep_spacing", default: "linspace", allowed: ["linspace", "leading", "trailing"]))!
        stepsOffset = try c.int("steps_offset", default: 0, in: 0...100_000)
        useKarrasSigmas = try c.bool("use_karras_sigmas", default: false)
        try c.choice("interpolation_type", default: "linear", allowed: ["linear"])
        setAlphaToOne = try c.bool("set_alpha_to_one", default: true)
        clipSample = c.has("clip_sample") ? try c.bool("clip_sample") : nil
        clipSampleRange = try c.double("clip_sample_range", default: 1)
        let explicitNull = c.values["original_inference_steps"] != nil && !c.has("original_inference_steps")
        originalInferenceSteps = explicitNull ? nil : try c.int("original_inference_steps", default: 50, in: 1...100_000)
        timestepScaling = try c.double("timestep_scaling", default: 10, in: 0...1e6)
        try c.require("trained_betas", in: [nil])
        rescaleBetasZeroSNR = try c.bool("rescale_betas_zero_snr", default: false)
        finalSigmas = FinalSigmas(rawValue: try c.choice("final_sigmas_type", default: "zero", allowed: ["zero", "sigma_min"]))!
        // They bound the Karras sigmas (Euler, UniPC); without Karras sigmas nothing reads them.
        if useKarrasSigmas {
            try c.require("sigma_min", in: [nil])
            try c.require("sigma_max", in: [nil])
        }
        try c.require("use_flow_sigmas", in: ["false", nil])
        try c.require("use_dynamic_shifting", in: ["false", nil])
        try c.require("variance_type", in: [nil])
        try c.require("shift_terminal", in: [nil])
        try c.require("solver_p", in: [nil])
        try c.require("use_exponential_sigmas", in: ["false", nil])
        try c.require("use_beta_sigmas", in: ["false", nil])
        try c.require("timestep_type", in: ["discrete", nil])
        try c.require("thresholding", in: ["false", nil])
        guard trainTimesteps > 1, trainTimesteps <= 100_000 else {
            throw ModelFileError.invalidConfig(path: c.path, key: "num_train_timesteps", reason: "must be between 2 and 100000")
        }
        guard betaStart > 0, betaEnd > betaStart, betaEnd < 1 else {
            throw ModelFileError.invalidConfig(path: c.path, key: "beta_start", reason: "and beta_end must satisfy 0 < beta_start < beta_end < 1")
        }
    }
}
