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

    public init(config: SchedulerConfig, steps: Int, name: String = "euler") throws {
        guard steps >= 1 else { throw SchedulerError.invalidSteps(steps) }
        self.name = name
        self.config = config
        let (times, sig) = SigmaSchedule.discrete(config, steps: steps, karras: config.useKarrasSigmas)
        sigmas = sig.map { Float($0) } + [0]
        timesteps = times.map { Float($0) }
    }

    public var initNoiseSigma: Float { SigmaSchedule.initNoiseSigma(sigmas, config) }

    public func scaleModelInput(_ sample: Tensor) -> Tensor { SigmaSchedule.scaleInput(sample, sigma: sigmas[stepIndex]) }

    public func addNoise(_ original: Tensor, noise: Tensor) -> Tensor { SigmaSchedule.addNoise(original, noise, sigma: sigmas[stepIndex]) }

    public mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[stepIndex], next = sigmas[stepIndex + 1]
        let dt = next - sigma
        let v = config.prediction == .vPrediction
        let c1 = -sigma / (sigma * sigma + 1).squareRoot(), c2 = sigma * sigma + 1
        let out = Elementwise.zip(modelOutput, sample) { m, s in
            let predicted = v ? m * c1 + s / c2 : s - sigma * m
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
