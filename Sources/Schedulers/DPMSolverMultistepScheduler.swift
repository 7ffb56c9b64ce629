import Foundation
import Numerics

/// diffusers' `DPMSolverMultistepScheduler` with `algorithm_type="dpmsolver++"`,
/// `solver_order=2`, `solver_type="midpoint"`, `lower_order_final=True`, `final_sigmas_type="zero"`
/// (its defaults): "DPM++ 2M", optionally with Karras sigmas ("DPM++ 2M Karras").
/// The previous data prediction is part of the state.
public struct DPMSolverMultistepScheduler: DiffusionScheduler {
    public let name: String
    public let config: SchedulerConfig
    public let timesteps: [Float]
    public let sigmas: [Float]
    public var stepIndex = 0
    /// The data prediction of the previous step, and how many lower-order steps have run.
    var previousPrediction: Tensor?
    var lowerOrderCount = 0

    /// `customTimesteps`: `set_timesteps(timesteps=)` (`steps` is then ignored; never with Karras sigmas).
    public init(config: SchedulerConfig, steps: Int, karras: Bool, name: String, customTimesteps: [Int]? = nil) throws {
        guard steps >= 1, steps <= config.trainTimesteps else { throw SchedulerError.invalidSteps(steps) }
        self.name = name
        self.config = config
        (timesteps, sigmas) = SigmaSchedule.multistep(config, steps: customTimesteps?.count ?? steps, karras: karras, custom: customTimesteps)
    }

    public var initNoiseSigma: Float { 1 }

    public func scaleModelInput(_ sample: Tensor) -> Tensor { sample }

    public func addNoise(_ original: Tensor, noise: Tensor) -> Tensor {
        SigmaSchedule.addNoiseVariancePreserving(original, noise, sigma: sigmas[stepIndex])
    }

    static func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    public mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let n = timesteps.count
        // With order 2 at most, diffusers' lower_order_second changes nothing; the final step is
        // first order when its sigma is zero, or (lower_order_final) with fewer than 15 steps.
        let lowerOrderFinal = stepIndex == n - 1 && (n < 15 || config.finalSigmas == .zero)
        // Convert to the data prediction x0.
        let (alphaS0, sigmaS0) = DPMSolverMultistepScheduler.alphaSigma(sigmas[stepIndex])
        let prediction = config.prediction
        let x0 = Elementwise.zip(modelOutput, sample) { m, s in
            switch prediction {
            case .epsilon: return (s - sigmaS0 * m) / alphaS0
            case .vPrediction: return alphaS0 * s - sigmaS0 * m
            case .sample: return m
            }
        }

        let (alphaT, sigmaT) = DPMSolverMultistepScheduler.alphaSigma(sigmas[stepIndex + 1])
        let lambdaT = logf(alphaT) - logf(sigmaT)
        let lambdaS0 = logf(alphaS0) - logf(sigmaS0)
        let h = lambdaT - lambdaS0
        let ratio = sigmaT / sigmaS0
        let expTerm = alphaT * (expf(-h) - 1)
        let out: Tensor
        if lowerOrderCount < 1 || lowerOrderFinal || previousPrediction == nil {
            out = Elementwise.zip(sample, x0) { s, d in ratio * s - expTerm * d }
        } else {
            let (alphaS1, sigmaS1) = DPMSolverMultistepScheduler.alphaSigma(sigmas[stepIndex - 1])
            let lambdaS1 = logf(alphaS1) - logf(sigmaS1)
            let r0 = (lambdaS0 - lambdaS1) / h
            let inv = 1 / r0
            let d1 = Elementwise.zip(x0, previousPrediction!) { m0, m1 in inv * (m0 - m1) }
            let partial = Elementwise.zip(sample, x0) { s, d in ratio * s - expTerm * d }
            out = Elementwise.zip(partial, d1) { p, d in p - 0.5 * expTerm * d }
        }
        previousPrediction = x0
        if lowerOrderCount < 2 { lowerOrderCount += 1 }
        stepIndex += 1
        return out
    }

    public func savedState() -> SchedulerState {
        var tensors: [String: StoredTensor] = [:]
        if let p = previousPrediction { tensors["previous_prediction"] = StoredTensor(p) }
        return SchedulerState(scheduler: name, stepIndex: stepIndex, tensors: tensors, numbers: ["lower_order_nums": Double(lowerOrderCount)])
    }

    public mutating func restore(_ state: SchedulerState) throws {
        try checkRestorable(state)
        stepIndex = state.stepIndex
        previousPrediction = try state.tensors["previous_prediction"]?.tensor()
        lowerOrderCount = Int(state.numbers["lower_order_nums"] ?? 0)
    }
}
