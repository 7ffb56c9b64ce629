// Kiln's benchmark suite: each SDXL component at its real config with random weights, and whole
// renders, timed in Kiln and in PyTorch/diffusers in the same run, in float32 and bfloat16, with
// GFLOP/s, each process's peak RSS and, for renders, each step's seconds; written as JSON to
// follow over time. Release builds, on an idle machine; never part of the tests.
//
//   swift build -c release && .build/release/KilnBenchmark [--lines unet-512,vae-decode-1024,...]
//       [--runs N] [--model DIR (for render-*)] [--json FILE] [--no-torch] [--size PX]
//       [--openvino WORK_DIR (render-* lines in OpenVINO too)]
//       [--controlnet DIR (render-1024-controlnet; default MODEL_DIR/../controlnet-canny)]
//   .build/release/KilnBenchmark --line NAME [--runs N] [--size PX]   (one line in this process; JSON to stdout)
//
// `--size PX` runs every sized line (unet-*, controlnet-*, vae-*, taesd-*, render-*) at PX pixels instead of
// its own size: for trying the lines on a small model, not for measurements.
// PyTorch runs from KILN_BENCH_PYTHON, else .venv-fixtures/bin/python (made by
// Tests/Fixtures/generate_fixtures.py), else python3; its lines are Benchmarks/torch_lines.py.
// OpenVINO runs from KILN_OPENVINO_VENV, else .venv-openvino (Benchmarks/openvino/run.sh
// --export-only makes it and the model's export in WORK_DIR/ir).
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
var size: Int?, openvinoWork: String?, controlnetDir: String?
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
    case "--size":
        let v = value()
        guard let n = Int(v), (8...8192).contains(n), n % 8 == 0 else { fail("--size takes pixels, a multiple of 8 from 8 to 8192, not \(v)") }
        size = n
    case "--openvino": openvinoWork = value()
    case "--controlnet": controlnetDir = value()
    default: fail("unknown option \(name)")
    }
}
guard (1...20).contains(runs) else { fail("--runs must be 1...20") }
for l in lines where !Lines.all.contains(l) { fail("unknown line \(l) (use: \(Lines.all.joined(separator: ", ")))") }

// Child mode: one line in this process, one JSON line out.
if let line = childLine {
    do {
        let result = try Lines.run(line, runs: runs, precision: childPrecision, size: size)
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
    try Lines.taesdxlConfig.write(toFile: configs + "/taesd.json", atomically: true, encoding: .utf8)
    try Lines.controlnetCannyConfig.write(toFile: configs + "/controlnet.json", atomically: true, encoding: .utf8)
} catch { fail("cannot write configs: \(error)") }
defer { try? FileManager.default.removeItem(atPath: configs) }

// OpenVINO: its venv and the model's export, made (or found) once before the lines run.
let openvinoPython = (ProcessInfo.processInfo.environment["KILN_OPENVINO_VENV"] ?? ".venv-openvino") + "/bin/python"
var openvinoIR: Result<String, BenchError>?
if let work = openvinoWork, lines.contains(where: { RenderRecipe.lines[$0] != nil }) {
    if let model {
        print("OpenVINO: exporting \(model) into \(work)/ir (reused when it is there)")
        fflush(stdout)
        let export = try? runChild("/bin/bash", ["Benchmarks/openvino/run.sh", "--export-only", model, work])
        openvinoIR = export?.status == 0 ? .success(work + "/ir")
            : .failure(BenchError("Benchmarks/openvino/run.sh --export-only failed (exit \(export?.status ?? -1))"))
    } else {
        openvinoIR = .failure(BenchError("needs --model DIR"))
    }
}

/// A line in a child process (Kiln's, PyTorch's or OpenVINO's), its peak RSS measured by wait4.
func measure(_ line: String, engine: String, precision: String) -> LineResult {
    var result = LineResult(line: line, engine: engine, precision: precision)
    do {
        let run: ChildRun
        let sizeArguments = size.map { ["--size", "\($0)"] } ?? []
        var times: RenderTimes?
        if let recipe = RenderRecipe.lines[line]?.sized(size) {
            guard let model else { result.note = "needs --model DIR"; return result }
            result.size = recipe.size
            let image = configs + "/\(line)-\(engine)-\(precision).png"
            var control: [String] = []
            if recipe.controlScale != nil {
                // The ControlNet folder and the fixed edge map, the same files for every engine.
                let folder = controlnetDir ?? URL(fileURLWithPath: model).deletingLastPathComponent().appendingPathComponent("controlnet-canny").path
                guard FileManager.default.fileExists(atPath: folder) else {
                    result.note = "needs --controlnet DIR (no \(folder); Benchmarks/full_size_models.py OUT --controlnet-only writes one)"
                    return result
                }
                guard engine != "openvino" else { result.note = "openvino/render.py runs no ControlNet"; return result }
                let edges = configs + "/control-\(recipe.size).png"
                if !FileManager.default.fileExists(atPath: edges) {
                    try PNGFile.write(RenderRecipe.controlImage(size: recipe.size), to: edges)
                }
                control = recipe.controlArguments(controlnet: folder, image: edges)
            }
            switch engine {
            case "kiln":
                let timesFile = configs + "/\(line)-kiln-\(precision).json"
                run = try runChild(kiln, ["render", "--model", model] + recipe.kilnArguments + control
                                   + ["--precision", precision == "bfloat16" ? "bf16" : "fp32", "--output", image],
                                   environment: ["KILN_TIMINGS": timesFile])
                times = try? JSONDecoder().decode(RenderTimes.self, from: Data(contentsOf: URL(fileURLWithPath: timesFile)))
            case "openvino":
                switch openvinoIR {
                case .success(let ir)?:
                    run = try runChild(openvinoPython, ["Benchmarks/openvino/render.py", ir, precision == "float32" ? "f32" : "default", image]
                                       + recipe.scriptArguments)
                case .failure(let error)?: result.note = error.description; return result
                case nil: result.note = "not asked for (--openvino WORK_DIR)"; return result
                }
            default:
                run = try runChild(python, ["Benchmarks/torch_lines.py", line, precision, configs, "1", model] + recipe.scriptArguments + control)
            }
        } else if engine == "kiln" {
            run = try runChild(me, ["--line", line, "--runs", "\(runs)", "--precision", precision == "bfloat16" ? "bf16" : "fp32"] + sizeArguments)
        } else {
            run = try runChild(python, ["Benchmarks/torch_lines.py", line, precision, configs, "\(runs)"] + sizeArguments)
        }
        guard run.status == 0 else { result.note = "exit status \(run.status)"; return result }
        let last = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        if RenderRecipe.lines[line] != nil {
            // The whole process is timed here; the child reports its notes (torch_lines.py) and
            // step times (torch_lines.py and openvino/render.py print them as their last line).
            result.note = (try? JSONDecoder().decode(LineResult.self, from: Data(last.utf8)))?.note
            times = times ?? (try? JSONDecoder().decode(RenderTimes.self, from: Data(last.utf8)))
            if engine == "openvino", let o = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any],
               let load = o["load_seconds"] as? Double, let call = o["render_seconds"] as? Double {
                result.note = String(format: "load and compile %.1f s, pipeline call %.1f s", load, call)
            }
            result.seconds = run.seconds
            result.setupSeconds = times?.setupSeconds
            result.stepSeconds = times?.stepSeconds
            result.decodeSeconds = times?.decodeSeconds
        } else if let child = try? JSONDecoder().decode(LineResult.self, from: Data(last.utf8)) {
            result = child
        }
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

func describe(_ r: LineResult) -> String {
    guard let m = r.imageDifference, let mean = r.meanDifference, let from = r.differenceFrom else { return "" }
    return String(format: "%@ %@ vs %@: max %d, mean %.2f", r.engine, r.precision, from, m, mean)
}

print("Kiln benchmark: \(parallelWorkerCount) threads, OpenBLAS core \(BLASLibrary.shared.coreName), runs \(runs)"
      + (size.map { ", every sized line at \($0) px" } ?? ""))
var results: [LineResult] = []
for line in lines {
    let kilnF32 = measure(line, engine: "kiln", precision: "float32")
    let kilnBF16 = measure(line, engine: "kiln", precision: "bfloat16")
    var row = [kilnF32, kilnBF16]
    var text = "\(line.padding(toLength: 16, withPad: " ", startingAt: 0)) kiln f32 \(cell(kilnF32, flop: kilnF32.gflop))"
    if torch {
        let torchF32 = measure(line, engine: "torch", precision: "float32")
        let torchBF16 = measure(line, engine: "torch", precision: "bfloat16")
        row += [torchF32, torchBF16]
        text += " | torch f32 \(cell(torchF32, flop: kilnF32.gflop))"
        if let k = kilnF32.seconds, let t = torchF32.seconds { text += String(format: " | ratio %.2f", k / t) }
        text += " | kiln bf16 \(cell(kilnBF16, flop: kilnF32.gflop)) | torch bf16 \(cell(torchBF16, flop: kilnF32.gflop))"
        if let k = kilnBF16.seconds, let t = torchBF16.seconds { text += String(format: " | bf16 ratio %.2f", k / t) }
        for r in [torchF32, torchBF16] where r.seconds == nil { text += " [torch \(r.precision): \(r.note ?? "?")]" }
    } else {
        text += " | kiln bf16 \(cell(kilnBF16, flop: kilnF32.gflop))"
    }
    let render = RenderRecipe.lines[line] != nil
    if render, openvinoIR != nil {
        // OpenVINO with the f32 hint and with its default (bf16 on CPUs with AVX512-BF16 or AMX).
        let ovF32 = measure(line, engine: "openvino", precision: "float32")
        let ovDefault = measure(line, engine: "openvino", precision: "default")
        row += [ovF32, ovDefault]
        text += " | ov f32 \(cell(ovF32, flop: nil)) | ov default \(cell(ovDefault, flop: nil))"
        if let k = kilnF32.seconds, let o = ovF32.seconds { text += String(format: " | kiln f32/ov f32 %.2f", k / o) }
        if let k = kilnBF16.seconds, let o = ovDefault.seconds { text += String(format: " | kiln bf16/ov default %.2f", k / o) }
        for r in [ovF32, ovDefault] where r.seconds == nil { text += " [openvino \(r.precision): \(r.note ?? "?")]" }
    }
    if kilnF32.seconds == nil { text += " [kiln: \(kilnF32.note ?? "?")]" }
    if kilnBF16.seconds == nil { text += " [kiln bf16: \(kilnBF16.note ?? "?")]" }
    if render {
        // Each image against diffusers float32's (Kiln bfloat16's against Kiln float32's), in
        // levels of 255; without diffusers, against Kiln float32's.
        func image(_ r: LineResult) -> String { configs + "/\(line)-\(r.engine)-\(r.precision).png" }
        let torch32 = configs + "/\(line)-torch-float32.png", kiln32 = image(kilnF32)
        let reference = FileManager.default.fileExists(atPath: torch32) ? (torch32, "torch float32") : (kiln32, "kiln float32")
        for i in row.indices where image(row[i]) != reference.0 {
            let kilnBF16Row = row[i].engine == "kiln" && row[i].precision == "bfloat16"
            compare(&row[i], image(row[i]), kilnBF16Row ? kiln32 : reference.0, from: kilnBF16Row ? "kiln float32" : reference.1)
        }
        let differences = row.map(describe).filter { !$0.isEmpty }
        if !differences.isEmpty { text += " | " + differences.joined(separator: "; ") }
    }
    print(text)
    if render {
        for r in row where r.seconds != nil {
            print("    \(r.engine) \(r.precision): " + RenderTimes(setupSeconds: r.setupSeconds, stepSeconds: r.stepSeconds, decodeSeconds: r.decodeSeconds).summary)
        }
    }
    results += row
    fflush(stdout)
}

struct Report: Codable {
    var date: String
    var threads: Int
    var openblasCore: String
    var size: Int?
    var results: [LineResult]
}
let report = Report(date: ISO8601DateFormatter().string(from: Date()), threads: parallelWorkerCount,
                    openblasCore: BLASLibrary.shared.coreName, size: size, results: results)
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
