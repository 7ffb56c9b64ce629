import Foundation
import Glibc

/// One measured line of the suite, as printed and written to JSON.
struct LineResult: Codable {
    var line: String
    var engine: String          // "kiln", "torch" or "openvino"
    var precision: String       // "float32" or "bfloat16" ("default" for OpenVINO's own choice)
    var seconds: Double?        // best call (whole process for render lines)
    var gflop: Double?          // GEMM work of one call, as Kiln counts it
    var peakRSSGB: Double?      // the measuring process's peak resident set
    var note: String?           // why a figure is missing
    // Render lines: the image against a float32 one (`differenceFrom`: torch's for Kiln float32
    // and torch bfloat16, Kiln's own for Kiln bfloat16), largest and mean channel difference in 1/255.
    var differenceFrom: String?
    var imageDifference: Int?
    var meanDifference: Double?
    // Render lines: the process's start to the first step, each step, the last step to the image.
    var setupSeconds: Double?
    var stepSeconds: [Double]?
    var decodeSeconds: Double?
    var size: Int?              // render lines: the image's width and height

    enum CodingKeys: String, CodingKey {
        case line, engine, precision, seconds, gflop, note, size
        case setupSeconds = "setup_seconds", stepSeconds = "step_seconds", decodeSeconds = "decode_seconds"
        case peakRSSGB = "peak_rss_gb"
        case differenceFrom = "difference_from"
        case imageDifference = "max_difference"
        case meanDifference = "mean_difference"
    }
}

/// Wall time of `body` in seconds.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// A child process's exit status, wall time, peak RSS (from wait4) and standard output.
struct ChildRun {
    var status: Int32
    var seconds: Double
    var peakRSSGB: Double
    var stdout: String
}

/// Runs `executable arguments` with stdout captured and stderr passed through, measuring its
/// peak RSS with wait4 (ru_maxrss is in kilobytes on Linux).
func runChild(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ChildRun {
    var pipe: [Int32] = [0, 0]
    guard Glibc.pipe(&pipe) == 0 else { throw BenchError("pipe: \(String(cString: strerror(errno)))") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
    posix_spawn_file_actions_addclose(&actions, pipe[0])
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in env { free(p) } }
    var pid: pid_t = 0
    let start = DispatchTime.now().uptimeNanoseconds
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, env)
    close(pipe[1])
    guard spawned == 0 else {
        close(pipe[0])
        throw BenchError("\(executable): cannot start (\(String(cString: strerror(spawned))))")
    }
    let output = FileHandle(fileDescriptor: pipe[0], closeOnDealloc: true).readDataToEndOfFile()
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ChildRun(status: exitStatus, seconds: wall, peakRSSGB: Double(usage.ru_maxrss) * 1024 / 1e9,
                    stdout: String(decoding: output, as: UTF8.self))
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Deterministic inputs in [-1, 1), the same on every run.
func randomValues(_ count: Int, seed: UInt64) -> [Float] {
    var x = seed
    return (0..<count).map { _ in
        x = x &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: x >> 11) % 2_000_000) / 1_000_000 - 1
    }
}
