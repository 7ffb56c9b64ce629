import Foundation

/// A whole-render line's recipe: the same request for `kiln render`, diffusers
/// (`Benchmarks/torch_lines.py`) and OpenVINO (`Benchmarks/openvino/render.py`).
struct RenderRecipe {
    var size: Int
    var steps: Int
    var guidance: Double
    /// diffusers' `EulerDiscreteScheduler.from_config(..., timestep_spacing=...)`, nil for the model's scheduler.
    var timestepSpacing: String?

    static let lines: [String: RenderRecipe] = [
        "render-512": RenderRecipe(size: 512, steps: 2, guidance: 5),
        // SDXL-Lightning's 4-step recipe (Euler, trailing spacing, no guidance), with the base's own weights.
        "render-1024-lightning": RenderRecipe(size: 1024, steps: 4, guidance: 0, timestepSpacing: "trailing"),
        // What people queue overnight (issue 22): 30 steps at guidance 5 with the model's scheduler.
        "render-1024-30": RenderRecipe(size: 1024, steps: 30, guidance: 5),
    ]

    /// This recipe at `size` pixels when given (`--size`).
    func sized(_ size: Int?) -> RenderRecipe {
        var r = self
        if let size { r.size = size }
        return r
    }

    var kilnArguments: [String] {
        var a = ["--prompt", "a lighthouse", "--steps", "\(steps)", "--guidance", "\(guidance)",
                 "--width", "\(size)", "--height", "\(size)", "--seed", "1"]
        if let timestepSpacing { a += ["--scheduler", "euler", "--scheduler-config", "timestep_spacing=\(timestepSpacing)"] }
        return a
    }

    /// The options torch_lines.py and openvino/render.py take.
    var scriptArguments: [String] {
        ["--size", "\(size)", "--steps", "\(steps)", "--guidance", "\(guidance)"]
            + (timestepSpacing.map { ["--timestep-spacing", $0] } ?? [])
    }
}

/// Where one render line's process spent its time, as `KILN_TIMINGS` (Kiln) and the scripts'
/// step timers (diffusers, OpenVINO) write it.
struct RenderTimes: Codable {
    var setupSeconds: Double?
    var stepSeconds: [Double]?
    var decodeSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case setupSeconds = "setup_seconds", stepSeconds = "step_seconds", decodeSeconds = "decode_seconds"
    }

    /// "setup 30.1 s, steps 13.2 / 14.0 / 18.9 s (first / median / last), decode 15.3 s".
    var summary: String {
        guard let steps = stepSeconds, !steps.isEmpty else { return "no step times" }
        let median = steps.sorted()[steps.count / 2]
        return String(format: "setup %.1f s, %d steps %.2f / %.2f / %.2f s (first / median / last), decode %.1f s",
                      setupSeconds ?? 0, steps.count, steps[0], median, steps[steps.count - 1], decodeSeconds ?? 0)
    }
}
