import Foundation
import Numerics

/// diffusers' `DDIMScheduler` with eta = 0 (what the SDXL pipelines pass by default):
/// deterministic steps on integer timesteps, optional clipping of the predicted sample.
public struct DDIMScheduler: DiffusionScheduler {
    public let name = "ddim"
    public let config: SchedulerConfig
    public let timesteps: [Float]
    public var stepIndex = 0
    let alphasCumprod: [Float]
    let finalAlphaCumprod: Float
    let stepSize: Int

    public init(config: SchedulerConfig, steps: Int) throws {
        guard steps >= 1, steps <= config.trainTimesteps else { throw SchedulerError.invalidSteps(steps) }
        self.config = config
        alphasCumprod = NoiseSchedule(config).alphasCumprod
        finalAlphaCumprod = config.setAlphaToOne ? 1 : alphasCumprod[0]
        stepSize = config.trainTimesteps / steps
        timesteps = NoiseSchedule.timesteps(config, count: steps).map { Float($0.rounded(.toNearestOrEven)) }
    }

    public var initNoiseSigma: Float { 1 }

    public func scaleModelInput(_ sample: Tensor) -> Tensor { sample }

    /// `sqrt(alphas_cumprod[t]) * original + sqrt(1 - alphas_cumprod[t]) * noise` at the timestep of `stepIndex`.
    public func addNoise(_ original: Tensor, noise: Tensor) -> Tensor {
        let a = alphasCumprod[Int(timesteps[min(stepIndex, timesteps.count - 1)])]
        let sqrtA = a.squareRoot(), sqrtB = (1 - a).squareRoot()
        return Elementwise.zip(original, noise) { o, n in sqrtA * o + sqrtB * n }
    }

    public mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let t = Int(timesteps[stepIndex])
        let prev = t - stepSize
        let a = alphasCumprod[t]
        let aPrev = prev >= 0 ? alphasCumprod[prev] : finalAlphaCumprod
        let b = 1 - a
        let sqrtA = a.squareRoot(), sqrtB = b.squareRoot(), sqrtAPrev = aPrev.squareRoot()
        let direction = (1 - aPrev - 0).squareRoot()
        let v = config.prediction == .vPrediction
        let clip = config.clipSample ?? true, range = Float(config.clipSampleRange)
        let out = Elementwise.zip(modelOutput, sample) { m, s in
            var x0: Float, eps: Float
            if v { x0 = sqrtA * s - sqrtB * m; eps = sqrtA * m + sqrtB * s } else { x0 = (s - sqrtB * m) / sqrtA; eps = m }
            if clip { x0 = min(max(x0, -range), range) }
            return sqrtAPrev * x0 + direction * eps
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
