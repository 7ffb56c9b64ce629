import Foundation

/// The timestep schedule of diffusers' `LCMScheduler.set_timesteps` and `TCDScheduler.set_timesteps`:
/// `original_inference_steps x strength` evenly skipped training timesteps (`k * i - 1`), of
/// which `steps` are taken at evenly spaced indices from the noisiest down.
enum ConsistencyTimesteps {
    /// `original` nil (TCD with `original_inference_steps: null`): every training timestep.
    /// `custom`: `set_timesteps(timesteps=)`, checked, then cut by `strength` as diffusers does.
    static func make(trainTimesteps n: Int, original: Int?, steps: Int, strength: Double, scheduler: String, custom: [Int]? = nil) throws -> [Int] {
        func fail(_ why: String) -> SchedulerError { .invalidSchedule("\(scheduler): \(why)") }
        if let custom {
            guard strength > 0, strength <= 1 else { throw fail("strength must be in (0, 1], not \(strength)") }
            if let original, original > n { throw fail("original_inference_steps \(original) is more than the \(n) training timesteps") }
            try CustomSchedule.checkTimesteps(custom, trainTimesteps: n)
            let count = custom.count
            let initial = min(Int(Double(count) * strength), count)
            return Array(custom[max(count - initial, 0)...])
        }
        guard steps >= 1 else { throw SchedulerError.invalidSteps(steps) }
        guard strength > 0, strength <= 1 else { throw fail("strength must be in (0, 1], not \(strength)") }
        guard steps <= n else { throw fail("\(steps) steps is more than the \(n) training timesteps") }
        var origin: [Int]
        if let original {
            guard original <= n else { throw fail("original_inference_steps \(original) is more than the \(n) training timesteps") }
            let k = n / original
            origin = (0..<Int(Double(original) * strength)).map { ($0 + 1) * k - 1 }
            guard origin.count / steps >= 1 else {
                let of = strength == 1 ? "original_inference_steps \(original)" : "original_inference_steps x strength (\(original) x \(strength))"
                throw fail("\(steps) steps is more than \(of) allows; use at most \(origin.count) steps")
            }
            guard steps <= original else { throw fail("\(steps) steps is more than original_inference_steps \(original)") }
        } else {
            origin = Array(0..<Int(Double(n) * strength))
            guard !origin.isEmpty else { throw fail("strength \(strength) leaves no training timesteps") }
        }
        origin.reverse()
        // np.floor(np.linspace(0, len, num=steps, endpoint=False)): i * (len / steps), floored.
        let stride = Double(origin.count) / Double(steps)
        return (0..<steps).map { origin[Int((Double($0) * stride).rounded(.down))] }
    }
}
