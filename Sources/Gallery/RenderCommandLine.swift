import Foundation
import Pipelines

/// The `kiln render …` command that reproduces an image: its model (and `--config`), then every
/// render parameter of `RenderParameters` whose value differs from what `kiln render` would use
/// without it, always the seed, and an output file. Values are quoted for a POSIX shell.
enum RenderCommandLine {
    static func make(_ record: Provenance, config: String?, output: String = "out.png") -> String {
        let request = record.request
        var baseline = RenderRequest(prompt: request.prompt)
        // Defaults that depend on the mode (guidance 7.5 and strength 0.9999 for inpainting).
        baseline.image = request.image
        baseline.mask = request.mask
        baseline.latents = request.latents
        baseline.refiner = request.refiner
        var words = ["kiln", "render", "--model", quote(record.model)]
        if let config { words += ["--config", quote(config)] }
        words += ["--prompt", quote(request.prompt)]
        let special: Set<String> = ["prompt", "seed", "lora", "embedding", "watermark", "refine-after", "vae-tiling"]
        for p in RenderParameters.all where !special.contains(p.name) {
            guard let value = p.value(in: request), value != p.value(in: baseline) else { continue }
            words += ["--\(p.name)", quote(value)]
        }
        if request.refineAfter { words.append("--refine-after") }
        if request.vaeTiling { words.append("--vae-tiling") }
        for lora in request.loras { words += ["--lora", quote("\(lora.file):\(ParameterValue.number(lora.scale))")] }
        for embedding in request.embeddings { words += ["--embedding", quote("\(embedding.file):\(embedding.token)")] }
        if !request.watermark { words.append("--no-watermark") }
        words += ["--seed", String(request.seed), "--output", quote(output)]
        return words.joined(separator: " ")
    }

    static let safe = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./:=,+@%")

    /// `word` as one POSIX shell word: as is when it holds only safe characters, else in single quotes.
    static func quote(_ word: String) -> String {
        if !word.isEmpty, word.allSatisfy(safe.contains) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
