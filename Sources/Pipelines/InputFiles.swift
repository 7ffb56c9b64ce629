import Adapters
import Foundation
import Imaging
import ModelFiles
import Numerics

/// Reading the inputs a request names: images and masks (PNG or JPEG, as diffusers' `load_image`
/// gives them: RGB) and latents files (safetensors holding `latents`, NCHW, as
/// `kiln render --denoising-end` writes them and diffusers' `output_type="latent"` returns them).
public enum InputFiles {
    /// The decoded inputs from their bytes, each with a name for messages.
    public static func decode(image: (data: Data, name: String)?, mask: (data: Data, name: String)?,
                              latents: (data: Data, name: String)?) throws -> RenderInputs {
        try decode([.image: image, .mask: mask, .latents: latents].compactMapValues { $0 })
    }

    /// Channels-last latents from safetensors bytes.
    public static func readLatents(data: Data, name: String) throws -> Tensor {
        let file = try SafetensorsFile(data: data, name: name)
        guard let info = file.info("latents") else {
            throw RenderError.invalid(parameter: "latents", reason: "\(name) holds no tensor named 'latents' (it has: \(file.tensorNames.prefix(5).joined(separator: ", ")))")
        }
        guard info.shape.count == 4, info.shape[0] >= 1, info.shape[0] <= 64, info.shape[1] >= 1, info.shape[1] <= 64,
              info.shape[2] >= 1, info.shape[2] <= 1024, info.shape[3] >= 1, info.shape[3] <= 1024 else {
            throw RenderError.invalid(parameter: "latents", reason: "\(name): shape \(info.shape) is not [images, channels, height, width] latents")
        }
        let t = try file.load("latents")
        guard t.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) else {
            throw RenderError.invalid(parameter: "latents", reason: "\(name) holds NaN or infinite values")
        }
        return t.nchwToNHWC()
    }

    /// Safetensors bytes of channels-last latents, stored NCHW as torch holds them.
    public static func encodeLatents(_ latents: Tensor, note: String) throws -> Data {
        try SafetensorsWriter.data([("latents", latents.nhwcToNCHW())], metadata: ["kiln": note])
    }
}

/// A request whose input files were read: their references carry the SHA-256 of the bytes, the
/// bytes are ready to store by hash, and the decoded inputs are ready to render.
public struct ResolvedInputs: Sendable {
    public var request: RenderRequest
    /// SHA-256 to file bytes.
    public var blobs: [String: Data]
    public var inputs: RenderInputs
}

extension InputFiles {
    /// Files larger than this are refused before they are read.
    public static let maxFileBytes = 512 << 20
    /// LoRA files (hashed, not stored) may be larger.
    public static let maxLoRABytes = 4 << 30

    /// Reads the files `request` names (its `StoredInput`s), hashes and decodes them, and hashes
    /// its adapter files. A `cache` shared between requests (a sweep) reads and decodes each file once.
    public static func resolve(_ request: RenderRequest, cache: InputFileCache = InputFileCache()) throws -> ResolvedInputs {
        var r = request
        var blobs: [String: Data] = [:]
        var inputs = RenderInputs()
        // Each stored input read and hashed; images decoded once per path in a sweep.
        for input in StoredInput.allCases {
            guard let path = r[keyPath: input.reference]?.file, r[keyPath: input.reference]?.sha256.isEmpty ?? false else { continue }
            let file = try cache.file(path, parameter: input.parameter)
            r[keyPath: input.reference]?.sha256 = file.sha256
            blobs[file.sha256] = file.data
            switch input {
            case .image: inputs.image = try cache.image(path)
            case .mask: inputs.mask = try cache.image(path)
            case .latents: try input.decode(file.data, name: path, into: &inputs)
            }
        }
        // Control images, stored by hash like the image and the mask, one per ControlNet in order.
        for i in r.controlnet.images.indices {
            guard let path = r.controlnet.images[i].file, r.controlnet.images[i].sha256.isEmpty else { continue }
            let file = try cache.file(path, parameter: "control-image")
            r.controlnet.images[i].sha256 = file.sha256
            blobs[file.sha256] = file.data
            inputs.controlImages.append(try cache.image(path))
        }
        // Adapter files are hashed (the job renders only with the same bytes) and parsed now, so a
        // file that is no LoRA or embedding is refused when the job is added, not overnight.
        for i in r.embeddings.indices where r.embeddings[i].sha256.isEmpty {
            r.embeddings[i].sha256 = try cache.file(r.embeddings[i].file, parameter: "embedding").sha256
            _ = try EmbeddingFile(path: r.embeddings[i].file)
        }
        for i in r.loras.indices where r.loras[i].sha256.isEmpty {
            let file = try cache.file(r.loras[i].file, parameter: "lora", limit: maxLoRABytes)
            r.loras[i].sha256 = file.sha256
            r.loras[i].shortHash = file.shortHash
            _ = try LoRAFile(path: r.loras[i].file)
        }
        if let vae = r.vae, vae.sha256.isEmpty {
            r.vae?.sha256 = try cache.vaeHash(vae, tiling: r.vaeTiling)
        }
        if let unet = r.unet, unet.sha256.isEmpty {
            r.unet?.sha256 = try cache.unetHash(unet)
        }
        return ResolvedInputs(request: r, blobs: blobs, inputs: inputs)
    }

    /// A whole regular file, refused with one line when missing, not a regular file (a FIFO
    /// would block), or larger than `maxFileBytes`.
    public static func readFile(_ path: String, parameter: String, limit: Int = maxFileBytes) throws -> Data {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw RenderError.invalid(parameter: parameter, reason: "\(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw RenderError.invalid(parameter: parameter, reason: "\(path) is not a regular file") }
        guard Int(st.st_size) <= limit else {
            throw RenderError.invalid(parameter: parameter, reason: "\(path) is \(st.st_size) bytes, over the limit of \(limit)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RenderError.invalid(parameter: parameter, reason: "\(path) could not be read")
        }
        return data
    }
}

/// Input files read once each: bytes, hash and decoded image by path. One thread fills it (a
/// sweep's requests are resolved in turn), so it is not `Sendable`.
public final class InputFileCache {
    var files: [String: (data: Data, sha256: String, shortHash: String)] = [:]
    var images: [String: RGBImage] = [:]
    var unetHashes: [String: String] = [:]
    var vaeHashes: [String: String] = [:]

    public init() {}

    func file(_ path: String, parameter: String, limit: Int = InputFiles.maxFileBytes) throws -> (data: Data, sha256: String, shortHash: String) {
        if let f = files[path] { return f }
        let data = try InputFiles.readFile(path, parameter: parameter, limit: limit)
        let lora = parameter == "lora"
        let f = (data, SHA256.hex(data), lora ? LoRAFile.shortHash(data: data) : "")
        files[path] = lora ? (Data(), f.1, f.2) : f  // LoRA bytes are not kept
        return f
    }

    /// A `--vae`'s SHA-256, checked to be a VAE SDXL can take first; hashed once per path.
    func vaeHash(_ vae: VAEReference, tiling: Bool) throws -> String {
        if let known = vaeHashes[vae.file] { return known }
        let hash = try vae.resolvedHash(tiling: tiling)
        vaeHashes[vae.file] = hash
        return hash
    }

    /// A `--unet`'s SHA-256, its layout checked (a pickle refused) first; hashed once per path.
    func unetHash(_ unet: UNetReference) throws -> String {
        if let known = unetHashes[unet.file] { return known }
        let hash = try unet.open().sha256()
        unetHashes[unet.file] = hash
        return hash
    }

    func image(_ path: String) throws -> RGBImage {
        if let i = images[path] { return i }
        guard let f = files[path] else { throw RenderError.invalid(parameter: "image", reason: "\(path) was not read") }
        let i = try ImageFile.read(data: f.data, name: path)
        images[path] = i
        return i
    }
}
