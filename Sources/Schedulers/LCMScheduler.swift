import Foundation
import Numerics

/// diffusers' `LCMScheduler`: each step predicts the clean sample, applies the consistency
/// boundary scalings (`timestep_scaling`), and re-noises it to the next timestep with fresh
/// noise from the generator, after every step but the last (same order as diffusers).
public struct LCMScheduler: DiffusionScheduler {
    public let name = "lcm"
    public let config: SchedulerConfig
    public let timesteps: [Float]
    public var stepIndex = 0
    let alphasCumprod: [Float]

    /// `strength` is `set_timesteps(strength=)`: the schedule of an image-to-image start
    /// (LCM's own pipelines; the SDXL pipelines cut the full schedule with a begin index instead).
    /// `customTimesteps`: `set_timesteps(timesteps=)` (`steps` is then ignored).
    public init(config: SchedulerConfig, steps: Int, strength: Double = 1, customTimesteps: [Int]? = nil) throws {
        guard let original = config.originalInferenceSteps else {
            throw SchedulerError.invalidSchedule("lcm: original_inference_steps must be a number, not null")
        }
        self.config = config
        alphasCumprod = NoiseSchedule(config).alphasCumprod
        timesteps = try ConsistencyTimesteps.make(trainTimesteps: config.trainTimesteps, original: original, steps: steps,
                                                  strength: strength, scheduler: name, custom: customTimesteps).map { Float($0) }
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
        let prev = last ? t : Int(timesteps[stepIndex + 1])
        let a = alphasCumprod[t], aPrev = alphasCumprod[prev]
        let sqrtA = a.squareRoot(), sqrtB = (1 - a).squareRoot()
        // get_scalings_for_boundary_condition_discrete, in float32 as torch computes it.
        let scaled = Float(t) * Float(config.timestepScaling)
        let cSkip = 0.25 / (scaled * scaled + 0.25)
        let cOut = scaled / (scaled * scaled + 0.25).squareRoot()
        let prediction = config.prediction
        let clip = config.clipSample ?? false, range = Float(config.clipSampleRange)
        let denoised = Elementwise.zip(modelOutput, sample) { m, s in
            var x0: Float
            switch prediction {
            case .epsilon: x0 = (s - sqrtB * m) / sqrtA
            case .vPrediction: x0 = sqrtA * s - sqrtB * m
            case .sample: x0 = m
            }
            if clip { x0 = min(max(x0, -range), range) }
            return cOut * x0 + cSkip * s
        }
        stepIndex += 1
        if last { return denoised }
        // diffusers draws the noise in torch's NCHW order, whatever our layout.
        let noise = generator.randn(NCHW.shape(ofChannelsLast: modelOutput.shape)).nchwToNHWC()
        let sqrtAPrev = aPrev.squareRoot(), sqrtBPrev = (1 - aPrev).squareRoot()
        return Elementwise.zip(denoised, noise) { sqrtAPrev * $0 + sqrtBPrev * $1 }
    }

    public func savedState() -> SchedulerState { SchedulerState(scheduler: name, stepIndex: stepIndex) }

    public mutating func restore(_ state: SchedulerState) throws {
        try checkRestorable(state)
        stepIndex = state.stepIndex
    }
}

/// Arithmetic LCM and TCD share with DDPM.
enum ConsistencyStep {
    /// `sqrt(a) * original + sqrt(1 - a) * noise` for the cumulative alpha `a` of one timestep.
    static func addNoise(_ original: Tensor, _ noise: Tensor, alphaCumprod a: Float) -> Tensor {
        let sqrtA = a.squareRoot(), sqrtB = (1 - a).squareRoot()
        return Elementwise.zip(original, noise) { o, n in sqrtA * o + sqrtB * n }
    }
}
