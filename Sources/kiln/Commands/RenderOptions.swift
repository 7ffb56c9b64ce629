import ArgumentParser
import Foundation
import ModelFiles
import Pipelines

/// Help text from the render parameter table.
func parameterHelp(_ name: String) -> ArgumentHelp { ArgumentHelp(RenderParameters.named(name)?.help ?? "") }

/// The render parameters shared by `kiln render` and `kiln enqueue`, with diffusers' defaults.
/// Each option is a row of `RenderParameters` (same name, help and parsing as sweep keys).
struct RenderOptions: ParsableArguments {
    @Option(help: parameterHelp("prompt")) var prompt: String
    @Option(name: .customLong("prompt-2"), help: parameterHelp("prompt-2")) var prompt2: String?
    @Option(name: .customLong("negative-prompt"), help: parameterHelp("negative-prompt")) var negativePrompt: String?
    @Option(name: .customLong("negative-prompt-2"), help: parameterHelp("negative-prompt-2")) var negativePrompt2: String?
    @Option(help: parameterHelp("width")) var width: String?
    @Option(help: parameterHelp("height")) var height: String?
    @Option(help: parameterHelp("steps")) var steps: String?
    @Option(help: parameterHelp("guidance")) var guidance: String?
    @Option(name: .customLong("guidance-rescale"), help: parameterHelp("guidance-rescale")) var guidanceRescale: String?
    @Option(help: parameterHelp("seed")) var seed: String?
    @Option(help: parameterHelp("scheduler")) var scheduler: String?
    @Option(help: parameterHelp("eta")) var eta: String?
    @Option(name: .customLong("scheduler-config"), help: parameterHelp("scheduler-config")) var schedulerConfig: [String] = []
    @Option(help: parameterHelp("timesteps")) var timesteps: String?
    @Option(help: parameterHelp("sigmas")) var sigmas: String?
    @Option(name: .customLong("clip-skip"), help: parameterHelp("clip-skip")) var clipSkip: String?
    @Option(name: .customLong("prompt-weighting"), help: parameterHelp("prompt-weighting")) var promptWeighting: String?
    @Option(name: .customLong("original-size"), help: parameterHelp("original-size")) var originalSize: String?
    @Option(name: .customLong("crop-top-left"), help: parameterHelp("crop-top-left")) var cropTopLeft: String?
    @Option(name: .customLong("target-size"), help: parameterHelp("target-size")) var targetSize: String?
    @Option(name: .customLong("negative-original-size"), help: parameterHelp("negative-original-size")) var negativeOriginalSize: String?
    @Option(name: .customLong("negative-crop-top-left"), help: parameterHelp("negative-crop-top-left")) var negativeCropTopLeft: String?
    @Option(name: .customLong("negative-target-size"), help: parameterHelp("negative-target-size")) var negativeTargetSize: String?
    @Option(help: parameterHelp("images")) var images: String?
    @Option(help: parameterHelp("image")) var image: String?
    @Option(help: parameterHelp("strength")) var strength: String?
    @Option(help: parameterHelp("mask")) var mask: String?
    @Option(name: .customLong("padding-mask-crop"), help: parameterHelp("padding-mask-crop")) var paddingMaskCrop: String?
    @Option(help: parameterHelp("latents")) var latents: String?
    @Option(name: .customLong("denoising-start"), help: parameterHelp("denoising-start")) var denoisingStart: String?
    @Option(name: .customLong("denoising-end"), help: parameterHelp("denoising-end")) var denoisingEnd: String?
    @Option(name: .customLong("aesthetic-score"), help: parameterHelp("aesthetic-score")) var aestheticScore: String?
    @Option(name: .customLong("negative-aesthetic-score"), help: parameterHelp("negative-aesthetic-score")) var negativeAestheticScore: String?
    @Option(help: parameterHelp("refiner")) var refiner: String?
    @Option(name: .customLong("refiner-config"), help: parameterHelp("refiner-config")) var refinerConfig: String?
    @Option(name: .customLong("high-noise-frac"), help: parameterHelp("high-noise-frac")) var highNoiseFrac: String?
    @Flag(name: .customLong("refine-after"), help: parameterHelp("refine-after")) var refineAfter = false
    @Option(name: .customLong("refiner-strength"), help: parameterHelp("refiner-strength")) var refinerStrength: String?
    @Option(help: parameterHelp("lora")) var lora: [String] = []
    @Option(help: parameterHelp("embedding")) var embedding: [String] = []
    @Option(help: parameterHelp("unet")) var unet: String?
    @Option(help: parameterHelp("vae")) var vae: String?
    @Flag(name: .customLong("vae-tiling"), help: parameterHelp("vae-tiling")) var vaeTiling = false
    @Option(help: parameterHelp("precision")) var precision: String?
    @Option(help: parameterHelp("variant")) var variant: String?
    @Flag(name: .customLong("no-watermark"), help: "Do not apply the invisible watermark.") var noWatermark = false
    @Option(help: parameterHelp("controlnet")) var controlnet: [String] = []
    @Option(name: .customLong("control-image"), help: parameterHelp("control-image")) var controlImage: [String] = []
    @Option(name: .customLong("control-scale"), help: parameterHelp("control-scale")) var controlScale: [String] = []
    @Option(name: .customLong("control-start"), help: parameterHelp("control-start")) var controlStart: [String] = []
    @Option(name: .customLong("control-end"), help: parameterHelp("control-end")) var controlEnd: [String] = []
    @Flag(name: .customLong("guess-mode"), help: parameterHelp("guess-mode")) var guessMode = false

    /// Option name to the value given, for every option that was given (a Hub id refiner
    /// resolved to its snapshot folder in the cache).
    var given: [(String, ParameterValue)] { get throws {
        let texts: [(String, String?)] = [
            ("prompt-2", prompt2), ("negative-prompt", negativePrompt), ("negative-prompt-2", negativePrompt2),
            ("width", width), ("height", height), ("steps", steps), ("guidance", guidance), ("guidance-rescale", guidanceRescale),
            ("seed", seed), ("scheduler", scheduler), ("eta", eta), ("clip-skip", clipSkip), ("prompt-weighting", promptWeighting), ("original-size", originalSize),
            ("crop-top-left", cropTopLeft), ("target-size", targetSize), ("negative-original-size", negativeOriginalSize),
            ("negative-crop-top-left", negativeCropTopLeft), ("negative-target-size", negativeTargetSize), ("images", images),
            ("image", image.map(absolute)), ("strength", strength), ("mask", mask.map(absolute)), ("padding-mask-crop", paddingMaskCrop),
            ("latents", latents.map(absolute)), ("denoising-start", denoisingStart), ("denoising-end", denoisingEnd),
            ("aesthetic-score", aestheticScore), ("negative-aesthetic-score", negativeAestheticScore),
            ("refiner", try refiner.map { try modelLocation($0, option: "refiner") }), ("refiner-config", refinerConfig.map(absolute)), ("high-noise-frac", highNoiseFrac),
            ("refiner-strength", refinerStrength), ("precision", precision), ("variant", variant),
            ("unet", try unet.map { try componentLocation($0, option: "unet") }),
            ("vae", try vae.map { try componentLocation($0, option: "vae") }),
        ]
        var out = texts.compactMap { name, value in value.map { (name, ParameterValue.text($0)) } }
        // A custom schedule gives the step count itself.
        for (name, value) in [("timesteps", timesteps), ("sigmas", sigmas)] where value != nil {
            if steps != nil { throw ValidationError("--steps: drop it; --\(name) gives the step count") }
            out.append((name, .text(value!)))
        }
        for entry in schedulerConfig { out.append(("scheduler-config", .text(entry))) }
        if refineAfter { out.append(("refine-after", .flag(true))) }
        for entry in lora { out.append(("lora", .text(try loraLocation(entry)))) }
        for entry in embedding { out.append(("embedding", .text(absolute(entry)))) }
        if vaeTiling { out.append(("vae-tiling", .flag(true))) }
        if noWatermark { out.append(("watermark", .flag(false))) }
        // ControlNets and their images, scales and windows, each repeatable and paired in order.
        for entry in controlnet { out.append(("controlnet", .text(try componentLocation(entry, option: "controlnet")))) }
        for entry in controlImage { out.append(("control-image", .text(absolute(entry)))) }
        for (name, values) in [("control-scale", controlScale), ("control-start", controlStart), ("control-end", controlEnd)] {
            for value in values { out.append((name, .text(value))) }
        }
        if guessMode { out.append(("guess-mode", .flag(true))) }
        return out
    } }

    /// The request these options describe, validated once before its input files are read,
    /// then with those files read, hashed and decoded (seed drawn at random when not given).
    func resolved() throws -> (request: ValidatedRequest, files: ResolvedInputs) {
        do {
            var r = RenderRequest(prompt: prompt)
            r.seed = UInt64.random(in: 0..<(1 << 32))
            for (name, value) in try given {
                guard let parameter = RenderParameters.named(name) else { throw ValidationError("--\(name) is not a render parameter") }
                try parameter.apply(value, to: &r)
            }
            let valid = try ValidatedRequest(r)
            let files = try InputFiles.resolve(r)
            return (try valid.recordingHashes(of: files.request), files)
        } catch RenderError.invalid(let parameter, let reason) where RenderParameters.named(parameter) != nil {
            throw ValidationError("--\(parameter): \(reason)")  // name the option as the user typed it
        }
    }
}

/// The absolute path a `--model` or `--refiner` argument names: an existing path, or a Hugging
/// Face Hub id (`org/name[@revision]`) resolved to its snapshot folder in the local cache
/// (`ModelLocation` has the rule). Errors name the option.
func modelLocation(_ argument: String, option: String) throws -> String {
    do { return try ModelLocation.resolve(argument, relativeTo: FileManager.default.currentDirectoryPath) } catch let error as HubCacheError {
        throw ValidationError("--\(option) \(error)")
    }
}

/// The absolute path a component option (`--unet`) names: an existing file or folder, or
/// `org/name[@revision][:PATH]` in the Hugging Face cache (`ModelLocation.resolveComponent`).
func componentLocation(_ argument: String, option: String) throws -> String {
    do { return try ModelLocation.resolveComponent(argument, relativeTo: FileManager.default.currentDirectoryPath) } catch let error as HubCacheError {
        throw ValidationError("--\(option) \(error)")
    }
}

/// A `--lora FILE[:SCALE]` entry with FILE made absolute, or `org/name[@revision]:FILE[:SCALE]`
/// with FILE found in that repo's snapshot in the Hugging Face cache.
func loraLocation(_ entry: String) throws -> String {
    var file = entry, scale = ""
    if let colon = entry.lastIndex(of: ":"), Double(entry[entry.index(after: colon)...]) != nil {
        file = String(entry[..<colon]); scale = String(entry[colon...])
    }
    do { return try ModelLocation.resolveFile(file, relativeTo: FileManager.default.currentDirectoryPath) + scale } catch let error as HubCacheError {
        throw ValidationError("--lora \(error)")
    }
}

/// Paths are stored absolute so workers started elsewhere find the same files.
func absolute(_ path: String) -> String {
    path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
}
