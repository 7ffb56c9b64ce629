import Foundation
import Numerics

/// diffusers' `UniPCMultistepScheduler` with its defaults: `solver_order=2`, `solver_type="bh2"`,
/// `predict_x0=True`, `lower_order_final=True`, corrector on every step, final sigma zero. Each
/// step first corrects the previous prediction (UniC) with the new model output, then predicts
/// (UniP). The last two data predictions, the last sample and the orders are the state.
public struct UniPCMultistepScheduler: DiffusionScheduler {
    public let name = "unipc"
    public let config: SchedulerConfig
    public let timesteps: [Float]
    public let sigmas: [Float]
    public var stepIndex = 0
    var outputs: [Tensor?] = [nil, nil]   // older, newer
    var lastSample: Tensor?
    var lowerOrderCount = 0
    var thisOrder = 0

    public init(config: SchedulerConfig, steps: Int) throws {
        guard steps >= 1, steps <= config.trainTimesteps else { throw SchedulerError.invalidSteps(steps) }
        self.config = config
        (timesteps, sigmas) = SigmaSchedule.multistep(config, steps: steps, karras: config.useKarrasSigmas, karrasFinalSigma: true)
    }

    public var initNoiseSigma: Float { 1 }
    public func scaleModelInput(_ sample: Tensor) -> Tensor { sample }

    public func addNoise(_ original: Tensor, noise: Tensor) -> Tensor {
        SigmaSchedule.addNoiseVariancePreserving(original, noise, sigma: sigmas[stepIndex])
    }

    static func lambda(_ sigma: Float) -> (alpha: Float, sigma: Float, lambda: Float) {
        let (a, s) = DPMSolverMultistepScheduler.alphaSigma(sigma)
        return (a, s, logf(a) - logf(s))
    }

    /// Coefficients of the B(h) = expm1(hh) variant for `order` with the node ratio `rk` (order 2).
    static func rhos(order: Int, h: Float, rk: Float?, corrector: Bool) -> (hPhi1: Float, bh: Float, rhos: [Float]) {
        let hh = -h
        let hPhi1 = expm1f(hh)
        var hPhiK = hPhi1 / hh - 1
        var factorial: Float = 1
        let bh = expm1f(hh)
        var b: [Float] = []
        for i in 1...order {
            b.append(hPhiK * factorial / bh)
            factorial *= Float(i + 1)
            hPhiK = hPhiK / hh - 1 / factorial
        }
        if !corrector {
            return (hPhi1, bh, order == 2 ? [0.5] : [])
        }
        if order == 1 { return (hPhi1, bh, [0.5]) }
        // Solve [[1, 1], [rk, 1]] x = b with partial pivoting (LAPACK's gesv on a 2x2).
        let r = rk!
        var (a00, a01, a10, a11) = (Float(1), Float(1), r, Float(1))
        var (b0, b1) = (b[0], b[1])
        if abs(a10) > abs(a00) { swap(&a00, &a10); swap(&a01, &a11); swap(&b0, &b1) }
        let l = a10 / a00
        let u11 = a11 - l * a01
        let y1 = b1 - l * b0
        let x1 = y1 / u11
        let x0 = (b0 - a01 * x1) / a00
        return (hPhi1, bh, [x0, x1])
    }

    public mutating func step(modelOutput: Tensor, sample: Tensor, generator: inout TorchGenerator) -> Tensor {
        let k = stepIndex
        let prediction = config.prediction
        let (a0, s0, _) = UniPCMultistepScheduler.lambda(sigmas[k])
        let converted = Elementwise.zip(modelOutput, sample) { m, x in
            switch prediction {
            case .epsilon: return (x - s0 * m) / a0
            case .vPrediction: return a0 * x - s0 * m
            case .sample: return m
            }
        }
        var current = sample
        if k > 0, let last = lastSample, let m0 = outputs[1] {
            // UniC: correct the sample predicted last step with the new model output.
            let (alphaT, sigmaT, lambdaT) = UniPCMultistepScheduler.lambda(sigmas[k])
            let (_, sigmaS0, lambdaS0) = UniPCMultistepScheduler.lambda(sigmas[k - 1])
            let h = lambdaT - lambdaS0
            var rk: Float? = nil, d1: Tensor? = nil
            if thisOrder >= 2, let m1 = outputs[0] {
                let (_, _, lambdaS1) = UniPCMultistepScheduler.lambda(sigmas[k - 2])
                let r = (lambdaS1 - lambdaS0) / h
                rk = r
                d1 = Elementwise.zip(m1, m0) { ($0 - $1) / r }
            }
            let (hPhi1, bh, rhos) = UniPCMultistepScheduler.rhos(order: thisOrder, h: h, rk: rk, corrector: true)
            let ratio = sigmaT / sigmaS0, c1 = alphaT * hPhi1, c2 = alphaT * bh
            let rhoLast = rhos[rhos.count - 1]
            let base = Elementwise.zip(last, m0) { x, m in ratio * x - c1 * m }
            let dt = Elementwise.zip(converted, m0) { $0 - $1 }
            if let d1 {
                let correction = Elementwise.zip(d1, dt) { d, t in rhos[0] * d + rhoLast * t }
                current = Elementwise.zip(base, correction) { b, c in b - c2 * c }
            } else {
                current = Elementwise.zip(base, dt) { b, t in b - c2 * (0 + rhoLast * t) }
            }
        }
        outputs = [outputs[1], converted]
        let remaining = timesteps.count - k
        thisOrder = min(min(2, remaining), lowerOrderCount + 1)
        lastSample = current
        // UniP: predict the next sample.
        let (alphaT, sigmaT, lambdaT) = UniPCMultistepScheduler.lambda(sigmas[k + 1])
        let (_, sigmaS0, lambdaS0) = UniPCMultistepScheduler.lambda(sigmas[k])
        let h = lambdaT - lambdaS0
        let m0 = converted
        var d1: Tensor? = nil
        if thisOrder >= 2, let m1 = outputs[0] {
            let (_, _, lambdaS1) = UniPCMultistepScheduler.lambda(sigmas[k - 1])
            let r = (lambdaS1 - lambdaS0) / h
            d1 = Elementwise.zip(m1, m0) { ($0 - $1) / r }
        }
        let (hPhi1, bh, rhos) = UniPCMultistepScheduler.rhos(order: thisOrder, h: h, rk: nil, corrector: false)
        let ratio = sigmaT / sigmaS0, c1 = alphaT * hPhi1, c2 = alphaT * bh
        let base = Elementwise.zip(current, m0) { x, m in ratio * x - c1 * m }
        let out = d1.map { d in Elementwise.zip(base, d) { b, dd in b - c2 * (rhos[0] * dd) } } ?? base
        if lowerOrderCount < 2 { lowerOrderCount += 1 }
        stepIndex += 1
        return out
    }

    public func savedState() -> SchedulerState {
        var tensors: [String: StoredTensor] = [:]
        if let o = outputs[0] { tensors["model_output_0"] = StoredTensor(o) }
        if let o = outputs[1] { tensors["model_output_1"] = StoredTensor(o) }
        if let l = lastSample { tensors["last_sample"] = StoredTensor(l) }
        return SchedulerState(scheduler: name, stepIndex: stepIndex, tensors: tensors,
                              numbers: ["lower_order_nums": Double(lowerOrderCount), "this_order": Double(thisOrder)])
    }

    public mutating func restore(_ state: SchedulerState) throws {
        try checkRestorable(state)
        stepIndex = state.stepIndex
        outputs = [try state.tensors["model_output_0"]?.tensor(), try state.tensors["model_output_1"]?.tensor()]
        lastSample = try state.tensors["last_sample"]?.tensor()
        lowerOrderCount = Int(state.numbers["lower_order_nums"] ?? 0)
        thisOrder = Int(state.numbers["this_order"] ?? 0)
    }
}
