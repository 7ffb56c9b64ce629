import Foundation
import Numerics

/// The sigma-space helpers shared by the Karras-style schedulers (Euler, Euler ancestral, Heun,
/// LMS, DPM-Solver with Karras sigmas), following diffusers' numpy code in float64.
enum SigmaSchedule {
    /// `np.interp(x, arange(len(fp)), fp)` for x inside the range.
    static func interpolate(_ x: Double, _ fp: [Float]) -> Double {
        if x <= 0 { return Double(fp[0]) }
        if x >= Double(fp.count - 1) { return Double(fp[fp.count - 1]) }
        let j = Int(x.rounded(.down))
        let slope = (Double(fp[j + 1]) - Double(fp[j])) / 1.0
        return slope * (x - Double(j)) + Double(fp[j])
    }

    /// diffusers' `_convert_to_karras`: rho = 7 between the last and first input sigma.
    static func karras(from sigmas: [Double], count: Int) -> [Double] {
        let sigmaMin = sigmas.last!, sigmaMax = sigmas.first!
        let rho = 7.0
        let minInv = pow(sigmaMin, 1 / rho), maxInv = pow(sigmaMax, 1 / rho)
        return (0..<count).map { i in
            let ramp = count == 1 ? 0 : (i == count - 1 ? 1 : Double(i) * (1.0 / Double(count - 1)))
            return pow(maxInv + ramp * (minInv - maxInv), rho)
        }
    }

    /// diffusers' `_sigma_to_t`: the fractional training timestep whose log-sigma interpolates to `sigma`.
    static func sigmaToT(_ sigma: Double, logSigmas: [Float]) -> Double {
        let logSigma = log(max(sigma, 1e-10))
        var count = 0, lastIndex = 0, best = -1
        // cumsum(dists >= 0).argmax(): the first index where the running count reaches its maximum.
        for (i, ls) in logSigmas.enumerated() where logSigma - Double(ls) >= 0 {
            count += 1
            if count > best { best = count; lastIndex = i }
        }
        let low = min(count == 0 ? 0 : lastIndex, logSigmas.count - 2)
        let high = low + 1
        let lo = Double(logSigmas[low]), hi = Double(logSigmas[high])
        let w = min(max((lo - logSigma) / (lo - hi), 0), 1)
        return (1 - w) * Double(low) + w * Double(high)
    }

    /// Timesteps and sigmas of diffusers' multistep solvers (DPM-Solver, UniPC): N + 1 points with
    /// the last dropped, integer timesteps, optional Karras sigmas, and a final sigma of zero.
    /// `custom`: `set_timesteps(timesteps=)` (DPM-Solver), used as given. The final sigma follows
    /// `final_sigmas_type`: zero, or the first training sigma (UniPC with Karras sigmas: the last
    /// Karras sigma, `karrasFinalSigma`).
    static func multistep(_ config: SchedulerConfig, steps: Int, karras: Bool, custom: [Int]? = nil,
                          karrasFinalSigma: Bool = false) -> (timesteps: [Float], sigmas: [Float]) {
        let trainSigmas = NoiseSchedule(config).sigmas
        let last = config.trainTimesteps
        var ts: [Double]
        if let custom { ts = custom.map { Double($0) } } else {
        switch config.spacing {
        case .linspace:
            let step = Double(last - 1) / Double(steps)
            ts = (0...steps).map { i in (i == steps ? Double(last - 1) : Double(i) * step).rounded(.toNearestOrEven) }.reversed().dropLast()
        case .leading:
            let ratio = last / (steps + 1)
            ts = (0...steps).map { Double($0 * ratio) }.reversed().dropLast().map { $0 + Double(config.stepsOffset) }
        case .trailing:
            let ratio = Double(last) / Double(steps)
            let count = Int((Double(last) / ratio).rounded(.up))
            ts = (0..<count).map { (Double(last) - Double($0) * ratio).rounded(.toNearestOrEven) - 1 }
        }
        }
        var sig: [Double]
        if karras {
            sig = SigmaSchedule.karras(from: trainSigmas.reversed().map { Double($0) }, count: steps)
            let logSigmas = trainSigmas.map { Float(log(Double($0))) }
            ts = sig.map { sigmaToT($0, logSigmas: logSigmas).rounded(.toNearestOrEven) }
        } else {
            sig = ts.map { interpolate($0, trainSigmas) }
        }
        var final: Float = 0
        if config.finalSigmas == .sigmaMin { final = karras && karrasFinalSigma ? Float(sig[sig.count - 1]) : trainSigmas[0] }
        return (ts.map { Float($0) }, sig.map { Float($0) } + [final])
    }

    /// The sigma after the last step of the Euler-type schedulers with `final_sigmas_type` (Euler).
    static func finalSigma(_ config: SchedulerConfig) -> Float {
        config.finalSigmas == .sigmaMin ? NoiseSchedule(config).sigmas[0] : 0
    }

    /// Timesteps and sigmas (without the final zero) of the Euler-type schedulers (Euler, Euler
    /// ancestral, Heun, LMS): sigmas interpolated at the spaced timesteps, or Karras sigmas with
    /// the timesteps mapped back from them.
    /// `custom`: `set_timesteps(timesteps=)` (Euler, Heun), used as given (never with Karras sigmas).
    static func discrete(_ config: SchedulerConfig, steps: Int, karras: Bool, custom: [Int]? = nil) -> (timesteps: [Double], sigmas: [Double]) {
        let trainSigmas = NoiseSchedule(config).sigmas
        var ts = custom.map { $0.map { Double(Float($0)) } } ?? NoiseSchedule.timesteps(config, count: steps).map { Double(Float($0)) }
        var sig = ts.map { interpolate($0, trainSigmas) }
        if karras && custom == nil {
            sig = SigmaSchedule.karras(from: sig, count: steps)
            let logSigmas = trainSigmas.map { Float(log(Double($0))) }
            ts = sig.map { sigmaToT($0, logSigmas: logSigmas) }
        }
        return (ts, sig)
    }

    /// `init_noise_sigma` of the Euler-type schedulers.
    static func initNoiseSigma(_ sigmas: [Float], _ config: SchedulerConfig) -> Float {
        let maxSigma = sigmas.max() ?? 0
        return config.spacing == .leading ? (maxSigma * maxSigma + 1).squareRoot() : maxSigma
    }

    /// `add_noise` of the Euler-type schedulers: `original + noise * sigma` in float32.
    static func addNoise(_ original: Tensor, _ noise: Tensor, sigma: Float) -> Tensor {
        Elementwise.zip(original, noise) { o, n in o + n * sigma }
    }

    /// `add_noise` of the multistep solvers (DPM-Solver, UniPC): `alpha_t * original + sigma_t * noise`
    /// with `alpha_t = 1 / sqrt(sigma^2 + 1)` and `sigma_t = sigma * alpha_t`.
    static func addNoiseVariancePreserving(_ original: Tensor, _ noise: Tensor, sigma: Float) -> Tensor {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        let sigmaT = sigma * alpha
        return Elementwise.zip(original, noise) { o, n in alpha * o + sigmaT * n }
    }

    /// `scale_model_input` of the Euler-type schedulers: `sample / sqrt(sigma^2 + 1)`.
    static func scaleInput(_ sample: Tensor, sigma: Float) -> Tensor {
        let scale = (sigma * sigma + 1).squareRoot()
        return Elementwise.map(sample) { $0 / scale }
    }
}
