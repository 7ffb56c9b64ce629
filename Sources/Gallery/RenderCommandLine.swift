import Foundation
import RenderRecord

/// The `kiln render …` command that reproduces an image: its model (and `--config`), then every
/// render parameter of `RenderParameters` whose value differs from what `kiln render` would use
/// without it, always the seed, and an output file. Values are quoted for a POSIX shell, and a
/// value starting with `-` is joined to its option (`--prompt='-x'`), so that the parser takes
/// it as the value rather than as another option.
enum RenderCommandLine {
    static func make(_ record: Provenance, config: String?, output: String = "out.png") -> String {
        let request = record.request
        var baseline = RenderRequest(prompt: request.prompt)
        // Defaults that depend on the mode (guidance 7.5 and strength 0.9999 for inpainting).
        baseline.image = request.image
        baseline.mask = request.mask
        baseline.latents = request.latents
        baseline.refiner = request.refiner
        var words = ["kiln", "render", option("model", record.model)]
        if let config { words.append(option("config", config)) }
        words.append(option("prompt", request.prompt))
        let special: Set<String> = ["prompt", "seed", "lora", "embedding", "watermark", "refine-after", "vae-tiling", "controlnet",
                                    "control-image", "guess-mode"]
        for p in RenderParameters.all where !special.contains(p.name) {
            guard let value = p.value(in: request), value != p.value(in: baseline) else { continue }
            // --timesteps and --sigmas give the step count (kiln refuses --steps with them).
            if p.name == "steps" && (request.timesteps != nil || request.sigmas != nil) { continue }
            words.append(option(p.name, value))
        }
        if request.refineAfter { words.append("--refine-after") }
        if request.vaeTiling { words.append("--vae-tiling") }
        for lora in request.loras { words.append(option("lora", "\(lora.file):\(ParameterValue.number(lora.scale))")) }
        for embedding in request.embeddings { words.append(option("embedding", "\(embedding.file):\(embedding.token)")) }
        // Each ControlNet with its control image, in order (the scales and windows are rows above).
        for (model, image) in zip(request.controlnet.models, request.controlnet.images) {
            words += [option("controlnet", model), option("control-image", image.file ?? image.sha256)]
        }
        if request.controlnet.guessMode { words.append("--guess-mode") }
        if !request.watermark { words.append("--no-watermark") }
        words += [option("seed", String(request.seed)), option("output", output)]
        return words.joined(separator: " ")
    }

    /// `--name value`, or `--name=value` when the value starts with `-` (else the parser would
    /// read it as an option: "Missing value for '--prompt'").
    static func option(_ name: String, _ value: String) -> String {
        value.hasPrefix("-") ? "--\(name)=" + quote(value) : "--\(name) " + quote(value)
    }

    static let safe = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./:=,+@%")

    /// `word` as one POSIX shell word: as is when it holds only safe characters, else in single quotes.
    static func quote(_ word: String) -> String {
        if !word.isEmpty, word.allSatisfy(safe.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
