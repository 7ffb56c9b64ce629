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
        let schedule = NoiseSchedule(config)
        let trainSigmas = schedule.sigmas
        let ts = NoiseSchedule.timesteps(config, count: steps).map { Double(Float($0)) }
        var times = ts
        var sig = ts.map { SigmaSchedule.interpolate($0, trainSigmas) }
        if config.useKarrasSigmas {
            sig = SigmaSchedule.karras(from: sig, count: steps)
            let logSigmas = trainSigmas.map { Float(log(Double($0))) }
            times = sig.map { SigmaSchedule.sigmaToT($0, logSigmas: logSigmas) }
        }
        sigmas = sig.map { Float($0) } + [0]
        timesteps = times.map { Float($0) }
    }

    public var initNoiseSigma: Float {
        let maxSigma = sigmas.max() ?? 0
        return config.spacing == .leading ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
    }

    public func scaleModelInput(_ sample: Tensor) -> Tensor {
        let sigma = sigmas[stepIndex]
        let scale = (sigma * sigma + 1).squareRoot()
        return Elementwise.map(sample) { $0 / scale }
    }

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
        guard state.scheduler == name else { throw SchedulerError.stateMismatch(expected: name, found: state.scheduler) }
        guard state.stepIndex >= 0, state.stepIndex <= timesteps.count else { throw SchedulerError.corruptState("step \(state.stepIndex)") }
        stepIndex = state.stepIndex
    }
}
