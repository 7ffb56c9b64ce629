// Kiln's benchmark suite: each SDXL component at its real config with random weights, and a whole
// render, timed in Kiln and in PyTorch/diffusers in the same run, in float32 and bfloat16, with
// GFLOP/s and each process's peak RSS; written as JSON to follow over time. Release builds, on an
// idle machine; never part of the tests.
//
//   swift build -c release && .build/release/KilnBenchmark [--lines unet-512,vae-decode-1024,...]
//       [--runs N] [--model DIR (for render-512)] [--json FILE] [--no-torch]
//   .build/release/KilnBenchmark --line NAME [--runs N]    (one line in this process; JSON to stdout)
//
// PyTorch runs from KILN_BENCH_PYTHON, else .venv-fixtures/bin/python (made by
// Tests/Fixtures/generate_fixtures.py), else python3; its lines are Benchmarks/torch_lines.py.
import Foundation
import Imaging
import Models
import Numerics

// KILN_THREADS, KILN_BF16, KILN_CONV and KILN_BLAS_CORE apply here as in kiln.
RuntimeSettings.install(RuntimeSettings(environment: ProcessInfo.processInfo.environment))

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("KilnBenchmark: \(message)\n".utf8))
    exit(2)
}

var lines = Lines.all, runs = 1, model: String?, jsonPath: String?, torch = true, childLine: String?, childPrecision = Precision.fp32
var args = Array(CommandLine.arguments.dropFirst())
while let name = args.first {
    args.removeFirst()
    func value() -> String {
        guard let v = args.first else { fail("\(name) needs a value") }
        args.removeFirst()
        return v
    }
    switch name {
    case "--lines": lines = value().split(separator: ",").map(String.init)
    case "--line": childLine = value()
    case "--precision":
        let v = value()
        guard let p = Precision(name: v) else { fail("--precision takes fp32 or bf16, not \(v)") }
        childPrecision = p
    case "--runs": runs = Int(value()) ?? 0
    case "--model": model = value()
    case "--json": jsonPath = value()
    case "--no-torch": torch = false
    default: fail("unknown option \(name)")
    }
}
guard (1...20).contains(runs) else { fail("--runs must be 1...20") }
for l in lines where !Lines.all.contains(l) { fail("unknown line \(l) (use: \(Lines.all.joined(separator: ", ")))") }

// Child mode: one line in this process, one JSON line out.
if let line = childLine {
    do {
        let result = try Lines.run(line, runs: runs, precision: childPrecision)
        print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        exit(0)
    } catch {
        fail("\(error)")
    }
}

let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
let kiln = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("kiln").path
let python = ProcessInfo.processInfo.environment["KILN_BENCH_PYTHON"]
    ?? (FileManager.default.isExecutableFile(atPath: ".venv-fixtures/bin/python") ? ".venv-fixtures/bin/python" : "/usr/bin/python3")
let configs = NSTemporaryDirectory() + "/kiln-bench-configs-\(getpid())"
do {
    try FileManager.default.createDirectory(atPath: configs, withIntermediateDirectories: true)
    for c in ["unet", "vae", "text_encoder", "text_encoder_2"] {
        try PublishedConfigs.json(c).write(toFile: configs + "/\(c).json", atomically: true, encoding: .utf8)
    }
} catch { fail("cannot write configs: \(error)") }
defer { try? FileManager.default.removeItem(atPath: configs) }

/// A line in a child process (Kiln's or PyTorch's), its peak RSS measured by wait4.
func measure(_ line: String, engine: String, precision: String) -> LineResult {
    var result = LineResult(line: line, engine: engine, precision: precision)
    do {
        let run: ChildRun
        if line == "render-512" {
            guard let model else { result.note = "needs --model DIR"; return result }
            if engine == "kiln" {
                let bf16 = precision == "bfloat16"
                run = try runChild(kiln, ["render", "--model", model, "--prompt", "a lighthouse", "--steps", "2", "--guidance", "5",
                                          "--width", "512", "--height", "512", "--seed", "1", "--precision", bf16 ? "bf16" : "fp32",
                                          "--output", configs + (bf16 ? "/render-bf16.png" : "/render.png")])
            } else {
                run = try runChild(python, ["Benchmarks/torch_lines.py", line, precision, configs, "1", model])
            }
        } else if engine == "kiln" {
            run = try runChild(me, ["--line", line, "--runs", "\(runs)", "--precision", precision == "bfloat16" ? "bf16" : "fp32"])
        } else {
            run = try runChild(python, ["Benchmarks/torch_lines.py", line, precision, configs, "\(runs)"])
        }
        guard run.status == 0 else { result.note = "exit status \(run.status)"; return result }
        if line != "render-512", let last = run.stdout.split(separator: "\n").last,
           let child = try? JSONDecoder().decode(LineResult.self, from: Data(last.utf8)) {
            result = child
        } else if line == "render-512", let last = run.stdout.split(separator: "\n").last,
                  let child = try? JSONDecoder().decode(LineResult.self, from: Data(last.utf8)) {
            result.note = child.note
        }
        if line == "render-512" { result.seconds = run.seconds }
        result.peakRSSGB = run.peakRSSGB
    } catch {
        result.note = "\(error)"
    }
    return result
}

/// Sets `result`'s largest and mean channel difference between the PNGs `a` and `b` (nothing
/// when either is missing or their sizes differ).
func compare(_ result: inout LineResult, _ a: String, _ b: String, from reference: String) {
    guard let x = try? ImageFile.read(a), let y = try? ImageFile.read(b), x.width == y.width, x.height == y.height,
          !x.pixels.isEmpty else { return }
    let differences = zip(x.pixels, y.pixels).map { abs(Int($0) - Int($1)) }
    result.differenceFrom = reference
    result.imageDifference = differences.max()
    result.meanDifference = Double(differences.reduce(0, +)) / Double(differences.count)
}

func cell(_ r: LineResult, flop: Double?) -> String {
    guard let s = r.seconds else { return "—" }
    let rate = flop.map { String(format: " %6.0f GF/s", $0 / s) } ?? ""
    return String(format: "%8.2f s%@ %5.1f GB", s, rate, r.peakRSSGB ?? 0)
}

print("Kiln benchmark: \(parallelWorkerCount) threads, OpenBLAS core \(BLASLibrary.shared.coreName), runs \(runs)")
var results: [LineResult] = []
for line in lines {
    let kilnF32 = measure(line, engine: "kiln", precision: "float32")
    let kilnBF16 = measure(line, engine: "kiln", precision: "bfloat16")
    results += [kilnF32, kilnBF16]
    var text = "\(line.padding(toLength: 16, withPad: " ", startingAt: 0)) kiln f32 \(cell(kilnF32, flop: kilnF32.gflop))"
    if torch {
        let torchF32 = measure(line, engine: "torch", precision: "float32")
        let torchBF16 = measure(line, engine: "torch", precision: "bfloat16")
        results += [torchF32, torchBF16]
        text += " | torch f32 \(cell(torchF32, flop: kilnF32.gflop))"
        if let k = kilnF32.seconds, let t = torchF32.seconds { text += String(format: " | ratio %.2f", k / t) }
        text += " | kiln bf16 \(cell(kilnBF16, flop: kilnF32.gflop)) | torch bf16 \(cell(torchBF16, flop: kilnF32.gflop))"
        if let k = kilnBF16.seconds, let t = torchBF16.seconds { text += String(format: " | bf16 ratio %.2f", k / t) }
        for r in [torchF32, torchBF16] where r.seconds == nil { text += " [torch \(r.precision): \(r.note ?? "?")]" }
    }
    if kilnF32.seconds == nil { text += " [kiln: \(kilnF32.note ?? "?")]" }
    if kilnBF16.seconds == nil { text += " [kiln bf16: \(kilnBF16.note ?? "?")]" }
    if line == "render-512", torch {
        // Kiln float32's and torch bfloat16's images against torch float32's, Kiln bfloat16's
        // against Kiln float32's, in levels of 255.
        let torch32 = configs + "/render-torch-float32.png", k = results.count - 4
        compare(&results[k], configs + "/render.png", torch32, from: "torch float32")
        compare(&results[k + 1], configs + "/render-bf16.png", configs + "/render.png", from: "kiln float32")
        compare(&results[k + 3], configs + "/render-torch-bfloat16.png", torch32, from: "torch float32")
        func describe(_ r: LineResult) -> String {
            guard let m = r.imageDifference, let mean = r.meanDifference else { return "—" }
            return String(format: "max %d, mean %.2f", m, mean)
        }
        text += " | kiln f32 vs torch f32: \(describe(results[k])); kiln bf16 vs kiln f32: \(describe(results[k + 1]))"
            + "; torch bf16 vs torch f32: \(describe(results[k + 3]))"
    }
    print(text)
    fflush(stdout)
}

struct Report: Codable {
    var date: String
    var threads: Int
    var openblasCore: String
    var results: [LineResult]
}
let report = Report(date: ISO8601DateFormatter().string(from: Date()), threads: parallelWorkerCount,
                    openblasCore: BLASLibrary.shared.coreName, results: results)
let path = jsonPath ?? "Benchmarks/results/bench-\(Int(Date().timeIntervalSince1970)).json"
do {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(report).write(to: URL(fileURLWithPath: path))
    print("wrote \(path)")
} catch {
    fail("cannot write \(path): \(error)")
}
