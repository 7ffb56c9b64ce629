import Foundation
import ModelFiles
import Models
import Numerics

/// The suite's lines: each SDXL component at its real config with random weights, timed in this
/// process (a child of the driver, so its peak RSS is its own), and a whole render as a process.
enum Lines {
    static let all = ["text-encoder", "text-encoder-2", "unet-512", "unet-1024", "vae-decode-1024", "vae-encode-1024", "render-512"]

    /// Runs one component line `runs` times in this process; the best call counts.
    static func run(_ line: String, runs: Int, precision: Precision) throws -> LineResult {
        var call: () -> Void
        switch line {
        case "unet-512", "unet-1024":
            let n = line == "unet-512" ? 64 : 128
            let config = try UNetConfig(try PublishedConfigs.config("unet", kind: .base))
            let unet = try UNet2DConditionModel(config: config, weights: WeightReader.random(seed: 1, component: "unet").with(precision: precision))
            let sample = Tensor(shape: [2, n, n, config.inChannels], scalars: randomValues(2 * n * n * config.inChannels, seed: 2))
            let conditioning = UNetConditioning(
                encoderHiddenStates: Tensor(shape: [2, 77, config.crossAttentionDim], scalars: randomValues(2 * 77 * config.crossAttentionDim, seed: 3)),
                textEmbeds: Tensor(shape: [2, 1280], scalars: randomValues(2 * 1280, seed: 4)),
                timeIDs: Array(repeating: [Float(n * 8), Float(n * 8), 0, 0, Float(n * 8), Float(n * 8)], count: 2))
            call = { _ = unet(sample, timestep: 500, conditioning: conditioning) }
        case "vae-decode-1024", "vae-encode-1024":
            let vae = try AutoencoderKL(config: try VAEConfig(try PublishedConfigs.config("vae", kind: .base)),
                                        weights: WeightReader.random(seed: 5, component: "vae").with(precision: precision))
            if line == "vae-decode-1024" {
                let latents = Tensor(shape: [1, 128, 128, 4], scalars: randomValues(128 * 128 * 4, seed: 6))
                call = { _ = vae.decode(latents) }
            } else {
                let image = Tensor(shape: [1, 1024, 1024, 3], scalars: randomValues(1024 * 1024 * 3, seed: 7))
                call = { _ = vae.encode(image) }
            }
        case "text-encoder", "text-encoder-2":
            let component = line == "text-encoder" ? "text_encoder" : "text_encoder_2"
            let model = try CLIPTextModel(config: try CLIPTextConfig(try PublishedConfigs.config(component, kind: .base)),
                                          weights: WeightReader.random(seed: 8, component: component).with(precision: precision), withProjection: component == "text_encoder_2")
            let ids: [[Int32]] = [[49406] + (1..<76).map { Int32(320 + $0 * 7) } + [49407]]
            call = { _ = model(ids) }
        default:
            throw BenchError("unknown line \(line) (use: \(all.joined(separator: ", ")))")
        }
        var best = Double.infinity, flop = 0.0
        for _ in 0..<runs {
            FLOPCounter.reset()
            FLOPCounter.enabled = true
            best = min(best, seconds(call))
            FLOPCounter.enabled = false
            flop = FLOPCounter.count
        }
        return LineResult(line: line, engine: "kiln", precision: precision == .bf16 ? "bfloat16" : "float32", seconds: best, gflop: flop / 1e9)
    }
}
