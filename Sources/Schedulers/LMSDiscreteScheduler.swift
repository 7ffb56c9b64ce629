import Foundation
import Numerics

/// diffusers' `LMSDiscreteScheduler` (linear multistep, order 4). diffusers integrates each
/// Lagrange basis polynomial with `scipy.integrate.quad`; the integrand is a polynomial of
/// degree < 4, so it is integrated exactly here. The last derivatives are part of the state.
public struct LMSDiscreteScheduler: DiffusionScheduler {
    public let name = "lms"
    public let config: SchedulerConfig
    public let timesteps: [Float]
    public let sigmas: [Float]
    public var stepIndex = 0
    static let maxOrder = 4
    /// Most recent last.
    var derivatives: [Tensor] = []

    public init(config: SchedulerConfig, steps: Int) throws {
        guard steps >= 1 else { throw SchedulerError.invalidSteps(steps) }
        self.config = config
        let (ts, sig) = SigmaSchedule.discrete(config, steps: steps, karras: config.useKarrasSigmas)
        sigmas = sig.map { Float($0) } + [0]
        timesteps = ts.map { Float($0) }
    }

    public var initNoiseSigma: Float { SigmaSchedule.initNoiseSigma(sigmas, config) }

    public func scaleModelInput(_ sample: Tensor) -> Tensor { SigmaSchedule.scaleInput(sample, sigma: sigmas[stepIndex]) }

    public func addNoise(_ original: Tensor, noise: Tensor) -> Tensor { SigmaSchedule.addNoise(original, noise, sigma: sigmas[stepIndex]) }

    /// ∫ from σ_t to σ_{t+1} of the Lagrange basis polynomial for node `current` over the nodes
    /// σ_t, σ_{t-1}, …, σ_{t-order+1}.
    func coefficient(order: Int, t: Int, current: Int) -> Double {
        var poly: [Double] = [1]  // coefficients, lowest degree first
        let sc = Double(sigmas[t - current])
        for k in 0..<order where k != current {
            let sk = Double(sigmas[t - k])
            let scale = 1 / (sc - sk)
            var next = [Double](repeating: 0, count: poly.count + 1)
            for (i, c) in poly.enumerated() {
                next[i + 1] += c * scale
                next[i] -= c * sk * scale
            }
            poly = next
        }
        func antiderivative(_ x: Double) -> Double {
            var sum = 0.0, power = x
            for (i, c) in poly.enumerated() { sum += c * power / Double(i + 1); power *= x }
            return sum
        }
        return antiderivative(Double(sigmas[t + 1])) - antiderivative(Double(sigmas[t]))
    }

    public mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[stepIndex]
        let prediction = config.prediction
        let c1 = -sigma / (sigma * sigma + 1).squareRoot(), c2 = sigma * sigma + 1
        let derivative = Elementwise.zip(modelOutput, sample) { m, s in
            let predicted: Float
            switch prediction {
            case .epsilon: predicted = s - sigma * m
            case .vPrediction: predicted = m * c1 + s / c2
            case .sample: predicted = m
            }
            return (s - predicted) / sigma
        }
        derivatives.append(derivative)
        if derivatives.count > LMSDiscreteScheduler.maxOrder { derivatives.removeFirst() }
        let order = min(stepIndex + 1, LMSDiscreteScheduler.maxOrder)
        let coefficients = (0..<order).map { Float(coefficient(order: order, t: stepIndex, current: $0)) }
        // prev = sample + (0 + c0 * d_latest + c1 * d_previous + ...), summed in that order.
        let out = Tensor(uninitialized: sample.shape)
        let s = sample.unsafePointer, o = out.unsafePointer
        let recent = Array(derivatives.reversed())
        for i in 0..<sample.count {
            var sum: Float = 0
            for (j, c) in coefficients.enumerated() where j < recent.count { sum = sum + c * recent[j].unsafePointer[i] }
            o[i] = s[i] + sum
        }
        stepIndex += 1
        return out
    }

    public func savedState() -> SchedulerState {
        var tensors: [String: StoredTensor] = [:]
        for (i, d) in derivatives.enumerated() { tensors["derivative_\(i)"] = StoredTensor(d) }
        return SchedulerState(scheduler: name, stepIndex: stepIndex, tensors: tensors)
    }

    public mutating func restore(_ state: SchedulerState) throws {
        try checkRestorable(state)
        stepIndex = state.stepIndex
        derivatives = try (0..<state.tensors.count).map { i in
            guard let t = state.tensors["derivative_\(i)"] else { throw SchedulerError.corruptState("derivative \(i) missing") }
            return try t.tensor()
        }
    }
}
