import Foundation

/// A VAE given apart from its pipeline (`--vae`): a diffusers folder whose config.json names
/// `AutoencoderKL` (madebyollin/sdxl-vae-fp16-fix) or `AutoencoderTiny` (madebyollin/taesdxl)
/// beside its weights, or one AutoencoderKL `.safetensors` file in diffusers' key layout or the
/// original `encoder.down.*`/`decoder.up.*`/`quant_conv` layout (`sdxl.vae.safetensors`), built
/// with the pipeline VAE's config. Only headers are read here; pickled files are refused (as
/// `--unet` refuses them, with the command that converts them).
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
        try UNetFile.refusePickle(path)
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
        if let sharded = source as? ShardedWeights { return [sharded.indexPath] + UNetFile.weightFiles(sharded) }
        return UNetFile.weightFiles(source)
    }

    /// One hash of the VAE's bytes, as `UNetFile.sha256()` makes one: the file's SHA-256, or for a
    /// folder the SHA-256 of the lines `SHA-256  file name` of its config.json and weight files.
    public func sha256() throws -> String {
        if config == nil, files.count == 1 { return try SHA256.hex(file: files[0]) }
        let lines = try files.map { "\(try SHA256.hex(file: $0))  \(($0 as NSString).lastPathComponent)\n" }
        return SHA256.hex(Data(lines.joined().utf8))
    }
}
