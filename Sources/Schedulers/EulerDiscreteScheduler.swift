import Foundation
import Numerics

/// diffusers' `EulerDiscreteScheduler` (k-diffusion's Euler method; no churn) with linear sigma
/// interpolation or Karras sigmas, epsilon and v-prediction.
public struct EulerDiscreteScheduler: DiffusionScheduler {
    public let name: String
    public let config: SchedulerConfig
    public let timesteps: [Float]
    /// One per step plus the final 0.
    public let sigmas: [Float]
    public var stepIndex = 0

    /// `customTimesteps` and `customSigmas` are `set_timesteps(timesteps=)` and `sigmas=` (at most
    /// one; `steps` is then ignored): sigmas interpolated at the given timesteps, or the given
    /// sigmas (the last is the final one) with timesteps mapped back from them.
    public init(config: SchedulerConfig, steps: Int, name: String = "euler", customTimesteps: [Int]? = nil, customSigmas: [Double]? = nil) throws {
        guard steps >= 1 else { throw SchedulerError.invalidSteps(steps) }
        self.name = name
        self.config = config
        if let customSigmas {
            let given = customSigmas.map { Float($0) }
            let logSigmas = NoiseSchedule(config).sigmas.map { Float(log(Double($0))) }
            sigmas = given
            timesteps = given.dropLast().map { Float(SigmaSchedule.sigmaToT(Double($0), logSigmas: logSigmas)) }
            return
        }
        let (times, sig) = SigmaSchedule.discrete(config, steps: steps, karras: config.useKarrasSigmas, custom: customTimesteps)
        sigmas = sig.map { Float($0) } + [SigmaSchedule.finalSigma(config)]
        timesteps = times.map { Float($0) }
    }

    public var initNoiseSigma: Float { SigmaSchedule.initNoiseSigma(sigmas, config) }

    public func scaleModelInput(_ sample: Tensor) -> Tensor { SigmaSchedule.scaleInput(sample, sigma: sigmas[stepIndex]) }

    public func addNoise(_ original: Tensor, noise: Tensor) -> Tensor { SigmaSchedule.addNoise(original, noise, sigma: sigmas[stepIndex]) }

    public mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[stepIndex], next = sigmas[stepIndex + 1]
        let dt = next - sigma
        let prediction = config.prediction
        let c1 = -sigma / (sigma * sigma + 1).squareRoot(), c2 = sigma * sigma + 1
        let out = Elementwise.zip(modelOutput, sample) { m, s in
            let predicted: Float
            switch prediction {
            case .epsilon: predicted = s - sigma * m
            case .vPrediction: predicted = m * c1 + s / c2
            case .sample: predicted = m
            }
            let derivative = (s - predicted) / sigma
            return s + derivative * dt
        }
        stepIndex += 1
        return out
    }

    public func savedState() -> SchedulerState { SchedulerState(scheduler: name, stepIndex: stepIndex) }

    public mutating func restore(_ state: SchedulerState) throws {
        try checkRestorable(state)
        stepIndex = state.stepIndex
    }
}
