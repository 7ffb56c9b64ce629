import Foundation
import Imaging

/// A whole-render line's recipe: the same request for `kiln render`, diffusers
/// (`Benchmarks/torch_lines.py`) and OpenVINO (`Benchmarks/openvino/render.py`).
struct RenderRecipe {
    var size: Int
    var steps: Int
    var guidance: Double
    /// diffusers' `EulerDiscreteScheduler.from_config(..., timestep_spacing=...)`, nil for the model's scheduler.
    var timestepSpacing: String?
    /// One ControlNet at this scale (`--controlnet DIR`, with `controlImage(size:)`), nil for none.
    var controlScale: Double?

    static let lines: [String: RenderRecipe] = [
        "render-512": RenderRecipe(size: 512, steps: 2, guidance: 5),
        // SDXL-Lightning's 4-step recipe (Euler, trailing spacing, no guidance), with the base's own weights.
        "render-1024-lightning": RenderRecipe(size: 1024, steps: 4, guidance: 0, timestepSpacing: "trailing"),
        // What people queue overnight (issue 22): 30 steps at guidance 5 with the model's scheduler.
        "render-1024-30": RenderRecipe(size: 1024, steps: 30, guidance: 5),
        // render-512's recipe at 1024 px with one ControlNet (issue 20): StableDiffusionXLControlNetPipeline.
        "render-1024-controlnet": RenderRecipe(size: 1024, steps: 2, guidance: 5, controlScale: 1),
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

extension RenderRecipe {
    /// The ControlNet options, the same for `kiln render` and torch_lines.py: the ControlNet at
    /// `controlnet` fed the image at `image`; none without `controlScale`.
    func controlArguments(controlnet: String, image: String) -> [String] {
        guard let controlScale else { return [] }
        return ["--controlnet", controlnet, "--control-image", image, "--control-scale", "\(controlScale)"]
    }

    /// A fixed edge map for the ControlNet lines, `size` x `size`: white outlines (concentric
    /// circles, a square, two diagonals) on black, like a canny edge map, the same on every run.
    static func controlImage(size: Int) -> RGBImage {
        let width = max(1, size / 512), c = Double(size) / 2, ring = max(4.0, Double(size) / 10)
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            for x in 0..<size {
                let r = ((Double(x) - c) * (Double(x) - c) + (Double(y) - c) * (Double(y) - c)).squareRoot()
                let onRing = r < c && r.truncatingRemainder(dividingBy: ring) < Double(width)
                let (lo, hi) = (size / 8, size - size / 8 - width)
                let onSquare = (x >= lo && x <= hi && (abs(y - lo) < width || abs(y - hi) < width))
                    || (y >= lo && y <= hi && (abs(x - lo) < width || abs(x - hi) < width))
                let onDiagonal = abs(x - y) < width || abs(x + y - size) < width
                if onRing || onSquare || onDiagonal {
                    for k in 0..<3 { pixels[(y * size + x) * 3 + k] = 255 }
                }
            }
        }
        return RGBImage(width: size, height: size, pixels: pixels)
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
