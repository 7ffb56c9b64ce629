import Foundation

/// The training noise schedule as diffusers builds it in float32: betas, alphas and their
/// cumulative product (`torch.cumprod`), plus the timestep spacings of `set_timesteps`.
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
        if config.rescaleBetasZeroSNR { betas = NoiseSchedule.rescaledToZeroTerminalSNR(betas) }
        self.betas = betas
        if config.rescaleBetasZeroSNR {
            alphasCumprod = NoiseSchedule.cumulativeProduct(betas.map { 1 - $0 })
        } else {
            // A float32 running product, within an ulp of torch's: what Kiln has always used, so
            // stored requests keep rendering their images bit for bit.
            var product: Float = 1
            alphasCumprod = betas.map { b in product *= (1 - b); return product }
        }
        rescaled = config.rescaleBetasZeroSNR
    }

    /// Whether the betas were rescaled to zero terminal SNR (the last cumulative alpha is 0).
    let rescaled: Bool

    /// diffusers' `rescale_zero_terminal_snr` in float32: the square roots of the cumulative
    /// alphas shifted to end at 0 and scaled to keep the first, then back to betas.
    static func rescaledToZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        var root = cumulativeProduct(betas.map { 1 - $0 }).map { $0.squareRoot() }
        let first = root[0], last = root[root.count - 1]
        let scale = first / (first - last)
        root = root.map { ($0 - last) * scale }
        let bar = root.map { $0 * $0 }
        return (0..<bar.count).map { i in 1 - (i == 0 ? bar[0] : bar[i] / bar[i - 1]) }
    }

    /// `torch.cumprod` of float32 values on the CPU: accumulated in float64, each product rounded
    /// to float32.
    static func cumulativeProduct(_ values: [Float]) -> [Float] {
        var product = 1.0
        return values.map { product *= Double($0); return Float(product) }
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
    /// With zero terminal SNR the last cumulative alpha is taken as 2^-24, as diffusers' sigma-based
    /// schedulers (Euler, Euler ancestral, DPM-Solver, UniPC) do, so the first sigma is finite.
    public var sigmas: [Float] {
        var a = alphasCumprod
        if rescaled { a[a.count - 1] = 0x1p-24 }
        return a.map { ((1 - $0) / $0).squareRoot() }
    }

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
