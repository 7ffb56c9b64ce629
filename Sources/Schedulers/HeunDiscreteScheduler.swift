import Foundation
import Numerics

/// diffusers' `HeunDiscreteScheduler`: Heun's second-order method, two UNet calls per step
/// (every timestep after the first appears twice). Between the two calls the first derivative,
/// the step size and the starting sample are part of the state.
public struct HeunDiscreteScheduler: DiffusionScheduler {
    public let name = "heun"
    public let config: SchedulerConfig
    public let timesteps: [Float]
    /// `sigmas[0], sigmas[1], sigmas[1], ..., 0` as diffusers interleaves them.
    public let sigmas: [Float]
    public var stepIndex = 0
    public var order: Int { 2 }
    var firstDerivative: Tensor?
    var firstSample: Tensor?
    var stepSize: Float?

    /// `customTimesteps`: `set_timesteps(timesteps=)`, one per step (`steps` is then ignored).
    public init(config: SchedulerConfig, steps: Int, customTimesteps: [Int]? = nil) throws {
        guard steps >= 1 else { throw SchedulerError.invalidSteps(steps) }
        self.config = config
        let (ts, sig) = SigmaSchedule.discrete(config, steps: customTimesteps?.count ?? steps, karras: config.useKarrasSigmas, custom: customTimesteps)
        let s = sig.map { Float($0) } + [0]
        sigmas = [s[0]] + s[1..<(s.count - 1)].flatMap { [$0, $0] } + [s[s.count - 1]]
        timesteps = [Float(ts[0])] + ts.dropFirst().flatMap { [Float($0), Float($0)] }
    }

    public var initNoiseSigma: Float { SigmaSchedule.initNoiseSigma(sigmas, config) }

    public func scaleModelInput(_ sample: Tensor) -> Tensor { SigmaSchedule.scaleInput(sample, sigma: sigmas[stepIndex]) }

    public func addNoise(_ original: Tensor, noise: Tensor) -> Tensor { SigmaSchedule.addNoise(original, noise, sigma: sigmas[stepIndex]) }

    public mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let firstOrder = stepSize == nil
        let sigma = firstOrder ? sigmas[stepIndex] : sigmas[stepIndex - 1]
        let next = firstOrder ? sigmas[stepIndex + 1] : sigmas[stepIndex]
        let input = firstOrder ? sigma : next
        let prediction = config.prediction
        let clip = config.clipSample ?? false, range = Float(config.clipSampleRange)
        let c1 = -input / (input * input + 1).squareRoot(), c2 = input * input + 1
        let predicted = Elementwise.zip(modelOutput, sample) { m, s in
            let p: Float
            switch prediction {
            case .epsilon: p = s - input * m
            case .vPrediction: p = m * c1 + s / c2
            case .sample: p = m
            }
            return clip ? min(max(p, -range), range) : p
        }
        let out: Tensor
        if firstOrder {
            let derivative = Elementwise.zip(sample, predicted) { s, p in (s - p) / sigma }
            let dt = next - sigma
            firstDerivative = derivative
            firstSample = sample
            stepSize = dt
            out = Elementwise.zip(sample, derivative) { s, d in s + d * dt }
        } else {
            let second = Elementwise.zip(sample, predicted) { s, p in (s - p) / next }
            let averaged = Elementwise.zip(firstDerivative!, second) { ($0 + $1) / 2 }
            let dt = stepSize!
            out = Elementwise.zip(firstSample!, averaged) { s, d in s + d * dt }
            firstDerivative = nil; firstSample = nil; stepSize = nil
        }
        stepIndex += 1
        return out
    }

    public func savedState() -> SchedulerState {
        var tensors: [String: StoredTensor] = [:]
        var numbers: [String: Double] = [:]
        if let d = firstDerivative, let s = firstSample, let dt = stepSize {
            tensors["prev_derivative"] = StoredTensor(d)
            tensors["sample"] = StoredTensor(s)
            numbers["dt"] = Double(dt)
        }
        return SchedulerState(scheduler: name, stepIndex: stepIndex, tensors: tensors, numbers: numbers)
    }

    public mutating func restore(_ state: SchedulerState) throws {
        try checkRestorable(state)
        stepIndex = state.stepIndex
        firstDerivative = try state.tensors["prev_derivative"]?.tensor()
        firstSample = try state.tensors["sample"]?.tensor()
        stepSize = state.numbers["dt"].map { Float($0) }
        guard (firstDerivative == nil) == (stepSize == nil) else { throw SchedulerError.corruptState("half of a Heun step") }
    }
}
