import ArgumentParser
import Foundation
import Imaging
import ModelFiles
import Models
import Numerics
import Pipelines
import RenderQueue
import Schedulers

/// `kiln render`: one render in any mode (text-to-image, image-to-image, inpainting, with or
/// without a refiner), written as PNG with its parameters in text chunks. SIGINT (Ctrl-C) or
/// SIGTERM stops it after the current step with nothing written (exit status 130); outputs are
/// written to a temporary name and renamed, so no partial file is left.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render images as diffusers' SDXL pipelines do on the CPU (text-to-image, image-to-image, inpainting, refiner).")

    @Option(help: "A diffusers model folder, a single-file .safetensors checkpoint, or a Hugging Face Hub id org/name[@revision] in the local cache.") var model: String
    @Option(help: "For a single-file checkpoint: a diffusers folder to take configs and tokenizers from (default: the published SDXL configs and the bundled CLIP vocabulary).") var config: String?
    @OptionGroup var options: RenderOptions
    @Option(name: .customLong("max-memory"), help: "Gigabytes of model weights to hold at once (default: 60% of memory); below base + refiner, each stage's model is loaded when it runs.")
    var maxMemory: Double?
    @Option(help: "Output PNG path (with --images N: FILE-0.png ... FILE-(N-1).png). Latents go to a .safetensors file.") var output: String

    /// Output paths, checked writable before any work.
    func outputPaths(count: Int, latents: Bool) throws -> [String] {
        let url = URL(fileURLWithPath: output)
        let folder = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("--output: folder \(folder) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw ValidationError("--output: folder \(folder) is not writable")
        }
        if FileManager.default.fileExists(atPath: output, isDirectory: &isDir), isDir.boolValue {
            throw ValidationError("--output: \(output) is a folder; give a file name")
        }
        let ext = latents ? "safetensors" : "png"
        let stem = ["png", "safetensors"].contains(url.pathExtension.lowercased()) ? url.deletingPathExtension().path : url.path
        if count == 1 { return [stem + "." + ext] }
        return (0..<count).map { "\(stem)-\($0).\(ext)" }
    }

    /// Bytes from `--max-memory` gigabytes; by default 60% of physical memory, which holds a
    /// full-size SDXL base (13.9 GB of float32 weights) but not base and refiner together on a
    /// 24 GB machine, and leaves room for activations.
    static func budget(_ gigabytes: Double?) throws -> Int {
        guard let gigabytes else { return Int(Double(ProcessInfo.processInfo.physicalMemory) * 0.6) }
        guard gigabytes.isFinite, gigabytes > 0, gigabytes <= 1_048_576 else {
            throw ValidationError("--max-memory must be a positive number of gigabytes, not \(gigabytes)")
        }
        return Int(gigabytes * 1_073_741_824)
    }

    /// The model as given when it exists (provenance keeps a relative path relative), else the
    /// snapshot folder of a Hub id.
    func renderModelPath() throws -> String {
        FileManager.default.fileExists(atPath: model) || HubModelID(model) == nil ? model : try modelLocation(model, option: "model")
    }

    func run() throws {
        try failing {
            let timings = try RenderTimings()
            let (valid, resolved) = try options.resolved()
            let request = valid.request
            let latentsOut = request.denoisingEnd != nil
            let paths = try outputPaths(count: latentsOut ? 1 : request.images, latents: latentsOut)
            let models = ModelCache(maxBytes: try RenderCommand.budget(maxMemory))
            models.dropsSpentParts = true  // one request, then the process ends
            try request.checkVariant(model: ModelReference(path: try renderModelPath(), config: config))
            let session = try RenderSession(validated: valid, model: ModelReference(path: try renderModelPath(), config: config),
                                            inputs: resolved.inputs, models: models)
            for notice in session.notices { FileHandle.standardError.write(Data("kiln: \(notice)\n".utf8)) }
            let progress = ProgressDisplay()
            let start = Date()
            let stop = StopRequest()
            let signals = StopSignals { _ in stop.request() }
            defer { withExtendedLifetime(signals) {} }
            let output: RenderOutput
            do {
                timings?.beginSteps()
                output = try session.run { step, total in
                    timings?.stepDone()
                    progress.update(step: step, of: total)
                    return !stop.isRequested
                }
            } catch RenderError.cancelled where stop.isRequested {
                progress.finish()
                FileHandle.standardError.write(Data("kiln: interrupted; no output written\n".utf8))
                throw ExitCode(130)
            }
            progress.finish()
            let seconds = Date().timeIntervalSince(start)
            switch output {
            case .latents(let latents):
                let data = try InputFiles.encodeLatents(latents, note: "latents NCHW after denoising_end \(request.denoisingEnd ?? 0)")
                do { try data.write(to: URL(fileURLWithPath: paths[0]), options: .atomic) } catch {
                    throw ImagingError.writeFailed(path: paths[0], reason: (error as NSError).localizedDescription)
                }
                print("wrote \(paths[0]) (seed \(request.seed))")
            case .images(let images):
                for (i, image) in images.enumerated() {
                    let record = Provenance(session: session, imageIndex: i, seconds: seconds)
                    try PNGFile.write(image, to: paths[i], text: record.textChunks)
                    print("wrote \(paths[i]) (seed \(request.seed))")
                }
            }
            try timings?.write()
        }
    }
}

/// A one-line progress bar on a terminal; silent when stderr is not a terminal.
final class ProgressDisplay {
    let enabled = isatty(2) == 1
    let start = Date()

    func update(step: Int, of total: Int) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let eta = step > 0 ? elapsed / Double(step) * Double(total - step) : 0
        let width = 30, filled = total > 0 ? width * step / total : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data(String(format: "\r[%@] step %d/%d, %.1f s elapsed, ETA %.0f s ", bar, step, total, elapsed, eta).utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
