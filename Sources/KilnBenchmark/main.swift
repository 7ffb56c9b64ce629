// One SDXL base UNet forward at the real config with random weights, timed, then the same
// forward in PyTorch/diffusers on this machine when Python with torch and diffusers is found.
//
//   swift run -c release KilnBenchmark [--latent 128] [--batch 2] [--runs 1] [--no-torch]
import Foundation
import ModelFiles
import Models
import Numerics

struct Options {
    var latent = 128, batch = 2, runs = 1, torch = true

    init(_ args: [String]) {
        var i = 0
        func next() -> Int { i += 1; return i < args.count ? Int(args[i]) ?? 0 : 0 }
        while i < args.count {
            switch args[i] {
            case "--latent": latent = next()
            case "--batch": batch = next()
            case "--runs": runs = next()
            case "--no-torch": torch = false
            default:
                FileHandle.standardError.write(Data("KilnBenchmark: unknown option \(args[i])\n".utf8))
                exit(2)
            }
            i += 1
        }
        guard latent > 0, latent % 8 == 0, batch > 0, runs > 0 else {
            FileHandle.standardError.write(Data("KilnBenchmark: --latent must be a positive multiple of 8, --batch and --runs positive\n".utf8))
            exit(2)
        }
    }
}

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let configFile = try PublishedConfigs.baseUNetConfig()
let config = try UNetConfig(configFile)
print("SDXL base UNet, random weights, batch \(options.batch), latent \(options.latent)x\(options.latent), \(parallelWorkerCount) threads, OpenBLAS core \(BLASLibrary.shared.coreName)")

var unet: UNet2DConditionModel!
let buildTime = seconds {
    do { unet = try UNet2DConditionModel(config: config, weights: .random(seed: 1, component: "unet")) } catch {
        FileHandle.standardError.write(Data("KilnBenchmark: \(error)\n".utf8))
        exit(1)
    }
}
print(String(format: "kiln: weights made in %.1f s", buildTime))

func randomInput(_ shape: [Int], seed: UInt64) -> Tensor {
    let t = Tensor(uninitialized: shape)
    var x = seed
    for i in 0..<t.count {
        x = x &* 6364136223846793005 &+ 1442695040888963407
        t.unsafePointer[i] = Float(Int64(bitPattern: x >> 11) % 2_000_000) / 1_000_000 - 1
    }
    return t
}
let b = options.batch, n = options.latent
let sample = randomInput([b, n, n, config.inChannels], seed: 2)
let conditioning = UNetConditioning(
    encoderHiddenStates: randomInput([b, 77, config.crossAttentionDim], seed: 3),
    textEmbeds: randomInput([b, 1280], seed: 4),
    timeIDs: Array(repeating: [Float(n * 8), Float(n * 8), 0, 0, Float(n * 8), Float(n * 8)], count: b))

var best = Double.infinity
var flops = 0.0
for run in 0..<options.runs {
    FLOPCounter.reset()
    FLOPCounter.enabled = true
    var out: Tensor?
    let t = seconds { out = unet(sample, timestep: 500, conditioning: conditioning) }
    FLOPCounter.enabled = false
    flops = FLOPCounter.count
    best = min(best, t)
    let finite = out!.scalars.allSatisfy { $0.isFinite }
    print(String(format: "kiln: run %d: %.2f s, %.2f TFLOP (GEMMs), %.1f GFLOP/s%@", run + 1, t, flops / 1e12, flops / t / 1e9,
                 finite ? "" : " (non-finite output!)"))
}

unet = nil  // free 10 GB before PyTorch builds its own copy
guard options.torch else { exit(0) }
let script = """
import json, sys, time
import torch
from diffusers import UNet2DConditionModel
cfg = json.loads(sys.argv[1]); n = int(sys.argv[2]); b = int(sys.argv[3]); runs = int(sys.argv[4])
torch.manual_seed(0)
unet = UNet2DConditionModel(**cfg).eval()
sample = torch.randn(b, 4, n, n); hidden = torch.randn(b, 77, cfg["cross_attention_dim"])
cond = {"text_embeds": torch.randn(b, 1280), "time_ids": torch.tensor([[n * 8.0, n * 8.0, 0, 0, n * 8.0, n * 8.0]] * b)}
best = float("inf")
with torch.no_grad():
    for r in range(runs):
        t = time.perf_counter(); unet(sample, 500, encoder_hidden_states=hidden, added_cond_kwargs=cond); t = time.perf_counter() - t
        best = min(best, t); print(f"torch: run {r + 1}: {t:.2f} s", flush=True)
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: best {best:.2f} s")
"""
var json: [String: Any] = [:]
for (k, v) in configFile.values where !k.hasPrefix("_") {
    if let d = v as? Double { json[k] = d == d.rounded() && !["norm_eps"].contains(k) ? Int(d) as Any : d as Any }
    else if let a = v as? [any Sendable] { json[k] = a.map { ($0 as? Double).map { Int($0) as Any } ?? ($0 as Any) } }
    else { json[k] = v }
}
let configJSON = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
let python = ProcessInfo.processInfo.environment["KILN_BENCH_PYTHON"]
    ?? (FileManager.default.isExecutableFile(atPath: ".venv-fixtures/bin/python") ? ".venv-fixtures/bin/python" : "/usr/bin/env")
let process = Process()
process.executableURL = URL(fileURLWithPath: python)
process.arguments = (python == "/usr/bin/env" ? ["python3"] : []) + ["-c", script, configJSON, "\(n)", "\(b)", "\(options.runs)"]
do {
    try process.run()
    process.waitUntilExit()
    if process.terminationStatus != 0 { print("torch: not measured (python could not run the diffusers UNet; set KILN_BENCH_PYTHON)") }
} catch {
    print("torch: not measured (\(error))")
}
print(String(format: "kiln best: %.2f s (%.1f GFLOP/s)", best, flops / best / 1e9))
