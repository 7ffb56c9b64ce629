import Foundation
import Numerics

/// diffusers' `DDIMScheduler`: steps on integer timesteps, optional clipping of the predicted
/// sample; with the pipeline's `eta` > 0, fresh noise from the generator after every step
/// (eta 0, the SDXL pipelines' default, is deterministic).
public struct DDIMScheduler: DiffusionScheduler {
    public let name = "ddim"
    public let config: SchedulerConfig
    public let timesteps: [Float]
    /// diffusers' `eta`, in 0...1.
    public let eta: Double
    public var stepIndex = 0
    let alphasCumprod: [Float]
    let finalAlphaCumprod: Float
    let stepSize: Int

    public init(config: SchedulerConfig, steps: Int, eta: Double = 0) throws {
        guard steps >= 1, steps <= config.trainTimesteps else { throw SchedulerError.invalidSteps(steps) }
        guard eta >= 0, eta <= 1 else { throw SchedulerError.invalidSchedule("ddim: eta must be between 0 and 1, not \(eta)") }
        self.config = config
        self.eta = eta
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
        // _get_variance, then sigma_t(eta) (0 when eta is 0).
        let variance = ((1 - aPrev) / b) * (1 - a / aPrev)
        let std = Float(eta) * variance.squareRoot()
        let direction = (1 - aPrev - std * std).squareRoot()
        let prediction = config.prediction
        let clip = config.clipSample ?? true, range = Float(config.clipSampleRange)
        let out = Elementwise.zip(modelOutput, sample) { m, s in
            var x0: Float, eps: Float
            switch prediction {
            case .epsilon: x0 = (s - sqrtB * m) / sqrtA; eps = m
            case .vPrediction: x0 = sqrtA * s - sqrtB * m; eps = sqrtA * m + sqrtB * s
            case .sample: x0 = m; eps = (s - sqrtA * x0) / sqrtB
            }
            if clip { x0 = min(max(x0, -range), range) }
            return sqrtAPrev * x0 + direction * eps
        }
        stepIndex += 1
        guard eta > 0 else { return out }
        // diffusers draws the noise in torch's NCHW order, whatever our layout.
        let noise = generator.randn(NCHW.shape(ofChannelsLast: modelOutput.shape)).nchwToNHWC()
        return Elementwise.zip(out, noise) { $0 + std * $1 }
    }

    public func savedState() -> SchedulerState {
        SchedulerState(scheduler: name, stepIndex: stepIndex, numbers: eta > 0 ? ["eta": eta] : [:])
    }

    public mutating func restore(_ state: SchedulerState) throws {
        try checkRestorable(state)
        guard (state.numbers["eta"] ?? 0) == eta else {
            throw SchedulerError.corruptState("saved with eta \(state.numbers["eta"] ?? 0), resumed with eta \(eta)")
        }
        stepIndex = state.stepIndex
    }
}
