import ArgumentParser
import Foundation
import Imaging
import ModelFiles
import Models
import Numerics
import Pipelines
import Schedulers

/// `kiln render`: one text-to-image render, written as PNG with its parameters in text chunks.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render images from a prompt, as diffusers' StableDiffusionXLPipeline does on the CPU.")

    @Option(help: "A diffusers model folder or a single-file .safetensors checkpoint.") var model: String
    @Option(help: "For a single-file checkpoint: a diffusers folder with its configs and tokenizers.") var config: String?
    @OptionGroup var options: RenderOptions
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

    func run() throws {
        try failing {
            let request = try options.request()
            let paths = try outputPaths(count: request.denoisingEnd == nil ? request.images : 1, latents: request.denoisingEnd != nil)
            let files = try SDXLModelFiles(path: model, configFolder: config)
            let pipeline = try TextToImagePipeline(files: files)
            let progress = ProgressDisplay()
            let start = Date()
            let output = try pipeline.render(request) { step, total in progress.update(step: step, of: total); return true }
            progress.finish()
            let seconds = Date().timeIntervalSince(start)
            let size = pipeline.size(for: request)
            switch output {
            case .latents(let latents):
                let data = try SafetensorsWriter.data([("latents", latents.nhwcToNCHW())],
                                                      metadata: ["kiln": "latents NCHW after denoising_end \(request.denoisingEnd ?? 0)"])
                do { try data.write(to: URL(fileURLWithPath: paths[0]), options: .atomic) } catch {
                    throw ImagingError.writeFailed(path: paths[0], reason: (error as NSError).localizedDescription)
                }
                print("wrote \(paths[0]) (seed \(request.seed))")
            case .images(let images):
                let hash = files.contentHash()
                let kind = request.scheduler ?? pipeline.defaultScheduler
                for (i, image) in images.enumerated() {
                    let bits = request.watermark && size.width >= 256 ? String(InvisibleWatermark.sdxlMessage, radix: 16) : nil
                    var record = Provenance(kilnVersion: Provenance.currentVersion, request: request, width: size.width, height: size.height,
                                            scheduler: kind.rawValue, schedulerClass: kind.diffusersClass, seed: request.seed,
                                            imageIndex: i, model: model, modelHash: hash, watermarkBits: bits, seconds: seconds)
                    record.schedulerConfig = pipeline.schedulerConfigJSON
                    try PNGFile.write(image, to: paths[i], text: record.textChunks)
                    print("wrote \(paths[i]) (seed \(request.seed))")
                }
            }
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
