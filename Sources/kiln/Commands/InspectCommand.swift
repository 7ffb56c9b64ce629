import ArgumentParser
import ModelFiles
import Models

/// `kiln inspect`: loads every component of a model and prints class, on-disk dtype and
/// parameter count per component, one line each.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Load a model and print each component's class, dtype on disk and parameter count.")

    @Option(name: .long, help: "A diffusers model folder (with model_index.json) or a single-file .safetensors checkpoint.")
    var model: String

    @Option(name: .long, help: "For a single-file checkpoint: a diffusers folder to take configs and tokenizers from (default: the published SDXL configs and the bundled CLIP vocabulary).")
    var config: String?

    @Option(name: .long, help: "Weight files to read, as kiln render's --variant: auto (the default: plain, else fp16), none (diffusers' variant=None: plain only) or fp16 (variant=\"fp16\": a component's fp16 files where it has any, else its plain ones).")
    var variant: String = "auto"

    func run() throws {
        try failing {
            guard let v = WeightVariant(rawValue: variant) else {
                throw ValidationError("--variant must be auto, none or fp16, not '\(variant)'")
            }
            let files = try SDXLModelFiles(path: model, variant: v, configFolder: config)
            for line in try files.inspect() { print(line) }
        }
    }
}
