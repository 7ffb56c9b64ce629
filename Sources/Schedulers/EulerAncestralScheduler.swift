import Foundation
import Numerics

/// diffusers' `EulerAncestralDiscreteScheduler`: an Euler step to `sigma_down`, then fresh noise
/// scaled by `sigma_up`, drawn from the generator after every step (same order as diffusers).
public struct EulerAncestralScheduler: DiffusionScheduler {
    public let name = "euler-a"
    public let config: SchedulerConfig
    public let timesteps: [Float]
    public let sigmas: [Float]
    public var stepIndex = 0

    public init(config: SchedulerConfig, steps: Int) throws {
        guard steps >= 1 else { throw SchedulerError.invalidSteps(steps) }
        self.config = config
        let (ts, sig) = SigmaSchedule.discrete(config, steps: steps, karras: false)
        sigmas = sig.map { Float($0) } + [0]
        timesteps = ts.map { Float($0) }
    }

    public var initNoiseSigma: Float { SigmaSchedule.initNoiseSigma(sigmas, config) }

    public func scaleModelInput(_ sample: Tensor) -> Tensor { SigmaSchedule.scaleInput(sample, sigma: sigmas[stepIndex]) }

    public func addNoise(_ original: Tensor, noise: Tensor) -> Tensor { SigmaSchedule.addNoise(original, noise, sigma: sigmas[stepIndex]) }

    public mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[stepIndex], to = sigmas[stepIndex + 1]
        let up = (to * to * (sigma * sigma - to * to) / (sigma * sigma)).squareRoot()
        let down = (to * to - up * up).squareRoot()
        let dt = down - sigma
        let v = config.prediction == .vPrediction
        let c1 = -sigma / (sigma * sigma + 1).squareRoot(), c2 = sigma * sigma + 1
        let moved = Elementwise.zip(modelOutput, sample) { m, s in
            let predicted = v ? m * c1 + s / c2 : s - sigma * m
            return s + (s - predicted) / sigma * dt
        }
        // diffusers draws the noise in torch's NCHW order, whatever our layout.
        let noise = generator.randn(NCHW.shape(ofChannelsLast: modelOutput.shape)).nchwToNHWC()
        stepIndex += 1
        return Elementwise.zip(moved, noise) { $0 + $1 * up }
    }

    public func savedState() -> SchedulerState { SchedulerState(scheduler: name, stepIndex: stepIndex) }

    public mutating func restore(_ state: SchedulerState) throws {
        try checkRestorable(state)
        stepIndex = state.stepIndex
    }
}

/// Shape conversions between torch's NCHW and Kiln's channels-last latents.
public enum NCHW {
    public static func shape(ofChannelsLast s: [Int]) -> [Int] { s.count == 4 ? [s[0], s[3], s[1], s[2]] : s }
}
