import ArgumentParser
import Foundation

/// `KILN_TIMINGS=FILE`: `kiln render` writes where its time went as JSON to FILE (the benchmark
/// suite's per-step series): `setup_seconds` (the command's start to the first step: loading,
/// prompt encoding), `step_seconds` (one entry per denoising step, every stage's) and
/// `decode_seconds` (the last step to the written files). Unset, nothing is measured or written
/// and the output is as without it.
final class RenderTimings {
    let path: String
    let start = Date()
    private var last = Date()
    private var setup: Double?
    private var steps: [Double] = []

    /// The file `KILN_TIMINGS` names, checked writable before any work; nil when it is unset or empty.
    init?(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let path = environment["KILN_TIMINGS"], !path.isEmpty else { return nil }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue,
              FileManager.default.isWritableFile(atPath: folder) else {
            throw ValidationError("KILN_TIMINGS: folder \(folder) does not exist or is not writable; give a file in a writable folder or unset it")
        }
        self.path = path
    }

    /// Marks the start of the denoising loop (the end of setup).
    func beginSteps() {
        last = Date()
        setup = last.timeIntervalSince(start)
    }

    /// Marks the end of one step.
    func stepDone() {
        let now = Date()
        steps.append(now.timeIntervalSince(last))
        last = now
    }

    /// Writes the JSON file (call after the outputs are written).
    func write() throws {
        let body: [String: Any] = ["setup_seconds": setup ?? 0, "step_seconds": steps, "decode_seconds": Date().timeIntervalSince(last)]
        do {
            let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ValidationError("KILN_TIMINGS: cannot write \(path): \((error as NSError).localizedDescription)")
        }
    }
}
