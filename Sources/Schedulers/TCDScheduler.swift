import Foundation
import Numerics

/// diffusers' `TCDScheduler`: each step predicts the clean sample and the noise, moves to the
/// earlier timestep `s = floor((1 - eta) * prev)`, then (eta > 0, every step but the last)
/// re-noises from `s` to the next timestep with fresh noise from the generator.
public struct TCDScheduler: DiffusionScheduler {
    public let name = "tcd"
    public let config: SchedulerConfig
    public let timesteps: [Float]
    /// The `eta` (gamma) that diffusers passes to every `step`: 0 is deterministic, 1 fully stochastic.
    public let eta: Double
    public var stepIndex = 0
    let alphasCumprod: [Float]

    /// `strength` is `set_timesteps(strength=)`, as in `LCMScheduler`.
    /// `customTimesteps`: `set_timesteps(timesteps=)` (`steps` is then ignored).
    public init(config: SchedulerConfig, steps: Int, eta: Double, strength: Double = 1, customTimesteps: [Int]? = nil) throws {
        guard eta >= 0, eta <= 1 else { throw SchedulerError.invalidSchedule("tcd: eta must be between 0 and 1, not \(eta)") }
        self.config = config
        self.eta = eta
        alphasCumprod = NoiseSchedule(config).alphasCumprod
        timesteps = try ConsistencyTimesteps.make(trainTimesteps: config.trainTimesteps, original: config.originalInferenceSteps,
                                                  steps: steps, strength: strength, scheduler: name, custom: customTimesteps).map { Float($0) }
    }

    public var initNoiseSigma: Float { 1 }

    public func scaleModelInput(_ sample: Tensor) -> Tensor { sample }

    /// DDPM's `add_noise` at the timestep of `stepIndex`.
    public func addNoise(_ original: Tensor, noise: Tensor) -> Tensor {
        ConsistencyStep.addNoise(original, noise, alphaCumprod: alphasCumprod[Int(timesteps[min(stepIndex, timesteps.count - 1)])])
    }

    public mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let t = Int(timesteps[stepIndex])
        let last = stepIndex == timesteps.count - 1
        let prev = last ? 0 : Int(timesteps[stepIndex + 1])
        // torch.floor((1 - eta) * prev_timestep): a float32 product of a long tensor and a scalar.
        let s = Int((Float(1 - eta) * Float(prev)).rounded(.down))
        let a = alphasCumprod[t], aPrev = alphasCumprod[prev], aS = alphasCumprod[s]
        let sqrtA = a.squareRoot(), sqrtB = (1 - a).squareRoot()
        let sqrtAS = aS.squareRoot(), sqrtBS = (1 - aS).squareRoot()
        let prediction = config.prediction
        let noised = Elementwise.zip(modelOutput, sample) { m, x in
            let x0: Float, eps: Float
            switch prediction {
            case .epsilon: x0 = (x - sqrtB * m) / sqrtA; eps = m
            case .vPrediction: x0 = sqrtA * x - sqrtB * m; eps = sqrtA * m + sqrtB * x
            case .sample: x0 = m; eps = (x - sqrtA * x0) / sqrtB
            }
            return sqrtAS * x0 + sqrtBS * eps
        }
        stepIndex += 1
        if eta == 0 || last { return noised }
        // diffusers draws the noise in torch's NCHW order, whatever our layout.
        let noise = generator.randn(NCHW.shape(ofChannelsLast: modelOutput.shape)).nchwToNHWC()
        let ratio = aPrev / aS
        let keep = ratio.squareRoot(), fresh = (1 - ratio).squareRoot()
        return Elementwise.zip(noised, noise) { keep * $0 + fresh * $1 }
    }

    public func savedState() -> SchedulerState { SchedulerState(scheduler: name, stepIndex: stepIndex, numbers: ["eta": eta]) }

    public mutating func restore(_ state: SchedulerState) throws {
        try checkRestorable(state)
        if let saved = state.numbers["eta"], saved != eta {
            throw SchedulerError.corruptState("saved with eta \(saved), resumed with eta \(eta)")
        }
        stepIndex = state.stepIndex
    }
}
