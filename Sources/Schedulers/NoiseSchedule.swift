import Foundation

/// The training noise schedule as diffusers builds it in float32: betas, alphas and their
/// cumulative product (`torch.cumprod` in float32), plus the timestep spacings of `set_timesteps`.
public struct NoiseSchedule: Sendable {
    public let betas: [Float]
    public let alphasCumprod: [Float]

    public init(_ config: SchedulerConfig) {
        let n = config.trainTimesteps
        var betas: [Float]
        switch config.betaSchedule {
        case .linear:
            betas = NoiseSchedule.torchLinspace(Float(config.betaStart), Float(config.betaEnd), n)
        case .scaledLinear:
            betas = NoiseSchedule.torchLinspace(Float(config.betaStart.squareRoot()), Float(config.betaEnd.squareRoot()), n).map { $0 * $0 }
        case .squaredCosine:
            // diffusers' betas_for_alpha_bar with the cosine alpha bar, in float64, then float32.
            func alphaBar(_ t: Double) -> Double { pow(cos((t + 0.008) / 1.008 * Double.pi / 2), 2) }
            betas = (0..<n).map { i in
                let t1 = Double(i) / Double(n), t2 = Double(i + 1) / Double(n)
                return Float(min(1 - alphaBar(t2) / alphaBar(t1), 0.999))
            }
        }
        self.betas = betas
        var product: Float = 1
        alphasCumprod = betas.map { b in product *= (1 - b); return product }
    }

    /// `torch.linspace(start, end, steps, dtype=float32)`: the first half counts up from `start`,
    /// the second half down from `end`, with a float32 step.
    static func torchLinspace(_ start: Float, _ end: Float, _ steps: Int) -> [Float] {
        if steps == 1 { return [start] }
        let step = (end - start) / Float(steps - 1)
        let half = steps / 2
        return (0..<steps).map { i in i < half ? start + step * Float(i) : end - step * Float(steps - i - 1) }
    }

    /// `sqrt((1 - ᾱ) / ᾱ)` per training timestep, in float32 (torch), as the Karras-style
    /// schedulers use them.
    public var sigmas: [Float] { alphasCumprod.map { ((1 - $0) / $0).squareRoot() } }

    /// The inference timesteps of `set_timesteps` for `count` steps (descending), as float64
    /// values before any scheduler-specific conversion.
    public static func timesteps(_ config: SchedulerConfig, count: Int) -> [Double] {
        let n = config.trainTimesteps
        switch config.spacing {
        case .linspace:
            // np.linspace(0, n - 1, count)[::-1] (float64, then float32 in Euler-type schedulers)
            if count == 1 { return [0] }
            let step = Double(n - 1) / Double(count - 1)
            return (0..<count).map { i in i == count - 1 ? Double(n - 1) : Double(i) * step }.reversed()
        case .leading:
            let ratio = n / count
            return (0..<count).map { Double($0 * ratio + config.stepsOffset) }.reversed()
        case .trailing:
            // np.arange(n, 0, -ratio).round() - 1
            let ratio = Double(n) / Double(count)
            let length = Int((Double(n) / ratio).rounded(.up))
            return (0..<length).map { (Double(n) - Double($0) * ratio).rounded(.toNearestOrEven) - 1 }
        }
    }
}
