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

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("KilnBenchmark: \(message)\n".utf8))
    exit(2)
}

var lines = Lines.all, runs = 1, model: String?, jsonPath: String?, torch = true, childLine: String?
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
        let result = try Lines.run(line, runs: runs)
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
                guard precision == "float32" else { result.note = "no bfloat16 path yet"; return result }
                run = try runChild(kiln, ["render", "--model", model, "--prompt", "a lighthouse", "--steps", "2", "--guidance", "5",
                                          "--width", "512", "--height", "512", "--seed", "1", "--output", configs + "/render.png"])
            } else {
                run = try runChild(python, ["Benchmarks/torch_lines.py", line, precision, configs, "1", model])
            }
        } else if engine == "kiln" {
            guard precision == "float32" else { result.note = "no bfloat16 path yet"; return result }
            run = try runChild(me, ["--line", line, "--runs", "\(runs)"])
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

/// The largest channel difference between two PNGs of one size, or nil when either is missing.
func largestDifference(_ a: String, _ b: String) -> Int? {
    guard let x = try? ImageFile.read(a), let y = try? ImageFile.read(b), x.width == y.width, x.height == y.height else { return nil }
    return zip(x.pixels, y.pixels).map { abs(Int($0) - Int($1)) }.max()
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
        text += " | torch bf16 \(cell(torchBF16, flop: kilnF32.gflop))"
        if let k = kilnBF16.seconds, let t = torchBF16.seconds { text += String(format: " | bf16 ratio %.2f", k / t) }
        for r in [torchF32, torchBF16] where r.seconds == nil { text += " [torch \(r.precision): \(r.note ?? "?")]" }
    }
    if kilnF32.seconds == nil { text += " [kiln: \(kilnF32.note ?? "?")]" }
    if line == "render-512", torch {
        // Kiln's image and torch bfloat16's against torch float32's, in levels of 255.
        let reference = configs + "/render-torch-float32.png", k = results.count - 4, t = results.count - 1
        results[k].imageDifference = largestDifference(configs + "/render.png", reference)
        results[t].imageDifference = largestDifference(configs + "/render-torch-bfloat16.png", reference)
        let kilnDiff = results[results.count - 4].imageDifference.map(String.init) ?? "—"
        let torchDiff = results[results.count - 1].imageDifference.map(String.init) ?? "—"
        text += " | max difference from torch f32: kiln \(kilnDiff)/255, torch bf16 \(torchDiff)/255"
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
