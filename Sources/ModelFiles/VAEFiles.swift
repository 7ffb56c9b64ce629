import Foundation

/// A VAE given apart from its pipeline (`--vae`): a diffusers folder whose config.json names
/// `AutoencoderKL` (madebyollin/sdxl-vae-fp16-fix) or `AutoencoderTiny` (madebyollin/taesdxl)
/// beside its weights, or one AutoencoderKL `.safetensors` file in diffusers' key layout or the
/// original `encoder.down.*`/`decoder.up.*`/`quant_conv` layout (`sdxl.vae.safetensors`), built
/// with the pipeline VAE's config. Only headers are read here; pickled files are refused.
public struct VAEFiles: Sendable {
    public enum ClassName: String, Sendable { case autoencoderKL = "AutoencoderKL", autoencoderTiny = "AutoencoderTiny" }

    public let path: String
    public let className: ClassName
    /// The folder's config.json; nil for a single file (it takes the pipeline VAE's config).
    public let config: ConfigFile?
    /// The tensors in diffusers' names.
    public let weights: any WeightSource
    /// The files read: config and weights (what provenance hashes).
    public let files: [String]

    public init(path: String, variant: WeightVariant = .automatic) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError.missingFile(path: path, hint: "give an AutoencoderKL or AutoencoderTiny diffusers folder, or an AutoencoderKL .safetensors file")
        }
        self.path = path
        if isDir.boolValue {
            let configPath = (path as NSString).appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: configPath) else {
                throw ModelFileError.missingFile(path: configPath, hint: "a VAE folder holds config.json beside its weights (as diffusers' save_pretrained writes it)")
            }
            let config = try ConfigFile(path: configPath)
            let name = try config.string("_class_name", default: ClassName.autoencoderKL.rawValue)
            guard let cls = ClassName(rawValue: name) else {
                throw ModelFileError.invalidConfig(path: configPath, key: "_class_name", reason: "\(name) is not a VAE Kiln reads (AutoencoderKL, AutoencoderTiny)")
            }
            let source = try DiffusersFolder.openWeights(folder: path, stem: "diffusion_pytorch_model", variant: variant)
            self.config = config
            className = cls
            weights = source
            files = [configPath] + VAEFiles.paths(of: source)
            return
        }
        let pickled = SingleFileCheckpoint.pickledContainer(path)
        if let kind = pickled ?? (["ckpt", "pt", "pth", "bin"].contains((path as NSString).pathExtension.lowercased()) ? "file" : nil) {
            let name = (path as NSString).lastPathComponent, stem = (name as NSString).deletingPathExtension
            throw ModelFileError.unsupportedFormat(path: path,
                reason: "is a pickled PyTorch file (\(kind)), which Kiln does not read (pickles can run code); convert it: python -c \"import torch; from safetensors.torch import save_file; sd = torch.load('\(name)', map_location='cpu', weights_only=True); save_file({k: v.contiguous() for k, v in sd.get('state_dict', sd).items()}, '\(stem).safetensors')\" and pass \(stem).safetensors")
        }
        let file = try SafetensorsFile(path: path)
        config = nil
        className = .autoencoderKL
        files = [path]
        let keys = file.tensors.keys
        if keys.contains(where: { $0.hasPrefix("encoder.down_blocks.") || $0.hasPrefix("decoder.up_blocks.") }) {
            weights = file
        } else if keys.contains(where: { $0.hasPrefix("encoder.down.") || $0.hasPrefix("decoder.up.") }) {
            weights = MappedWeights(base: file, entries: SingleFileCheckpoint.vaeEntries(file, prefix: ""))
        } else if keys.contains(where: { $0.hasPrefix(SingleFileCheckpoint.vaePrefix + "decoder.up.") }) {
            weights = MappedWeights(base: file, entries: SingleFileCheckpoint.vaeEntries(file, prefix: SingleFileCheckpoint.vaePrefix))
        } else {
            throw ModelFileError.unsupportedFormat(path: path,
                reason: "holds no AutoencoderKL decoder (neither diffusers' 'decoder.up_blocks.*' nor the original 'decoder.up.*' tensors); give a VAE file or folder")
        }
    }

    /// The latent channels the VAE codes, from its config or, for a single file, from the shape
    /// of its decoder's first convolution; nil when neither says.
    public var latentChannels: Int? {
        if let config, let c = try? config.int("latent_channels", default: 4) { return c }
        guard let shape = weights.info("decoder.conv_in.weight")?.shape, shape.count == 4 else { return nil }
        return shape[1]
    }

    static func paths(of source: any WeightSource) -> [String] {
        if let file = source as? SafetensorsFile { return [file.path] }
        if let sharded = source as? ShardedWeights {
            return [sharded.indexPath] + Set(sharded.tensorNames.map { sharded.location(of: $0) }).sorted()
        }
        return []
    }
}
