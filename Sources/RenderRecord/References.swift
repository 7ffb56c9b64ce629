import Foundation

/// A LoRA a render applies: its file, the SHA-256 of the file's bytes when it was named (a job
/// renders only with the same file), and its scale (`set_adapters(weights=[scale])`).
public struct LoRAReference: Sendable, Hashable, Codable {
    public var file: String
    public var sha256: String
    public var scale: Double
    /// The short hash image tools show for the file (SHA-256 of its tensor data, 12 digits).
    public var shortHash: String?

    public init(file: String, sha256: String, scale: Double, shortHash: String? = nil) {
        self.file = file; self.sha256 = sha256; self.scale = scale; self.shortHash = shortHash
    }

    /// `FILE` or `FILE:SCALE` (scale 1 when omitted), the file not yet read.
    public init(spec: String) throws {
        var path = spec, scale = 1.0
        if let colon = spec.lastIndex(of: ":"), let s = Double(spec[spec.index(after: colon)...]) {
            path = String(spec[..<colon]); scale = s
        }
        guard !path.isEmpty else { throw RenderError.invalid(parameter: "lora", reason: "give FILE or FILE:SCALE, not '\(spec)'") }
        guard scale.isFinite, abs(scale) <= 10 else { throw RenderError.invalid(parameter: "lora", reason: "scale \(scale) must be between -10 and 10") }
        self.init(file: path, sha256: "", scale: scale)
    }

    /// "name: hash" as A1111's `Lora hashes` lists it.
    public var infotext: String { "\(((file as NSString).lastPathComponent as NSString).deletingPathExtension): \(shortHash ?? String(sha256.prefix(12)))" }
}

/// A textual-inversion embedding a render uses: its file, the SHA-256 of its bytes when it was
/// named, and the token that stands for it in prompts (by default the file's stem).
public struct EmbeddingReference: Sendable, Hashable, Codable {
    public var file: String
    public var sha256: String
    public var token: String

    public init(file: String, sha256: String, token: String) { self.file = file; self.sha256 = sha256; self.token = token }

    /// `FILE` or `FILE:TOKEN`, the file not yet read.
    public init(spec: String) throws {
        var path = spec
        var token: String?
        if let colon = spec.lastIndex(of: ":"), !spec[spec.index(after: colon)...].contains("/"), colon != spec.startIndex {
            path = String(spec[..<colon]); token = String(spec[spec.index(after: colon)...])
        }
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let chosen = token ?? stem
        guard !path.isEmpty, !chosen.isEmpty, !chosen.contains(where: \.isWhitespace) else {
            throw RenderError.invalid(parameter: "embedding", reason: "give FILE or FILE:TOKEN with a token without spaces, not '\(spec)'")
        }
        self.init(file: path, sha256: "", token: chosen)
    }

    /// "token: hash" as A1111's `TI hashes` lists it.
    public var infotext: String { "\(token): \(sha256.prefix(12))" }
}

/// A UNet a render swaps in for its model's own (`--unet`, diffusers' `pipe.unet = other`): a UNet
/// folder or one safetensors file (`UNetFile`), and the SHA-256 of its bytes when it was named (a
/// job renders only with the same bytes).
public struct UNetReference: Sendable, Hashable, Codable {
    public var file: String
    public var sha256: String

    public init(file: String, sha256: String = "") { self.file = file; self.sha256 = sha256 }

    /// "name [hash]" for the PNG's parameters text.
    public var infotext: String { "\(((file as NSString).lastPathComponent as NSString).deletingPathExtension) [\(sha256.prefix(10))]" }
}

/// A VAE a render swaps in for its models' own (`--vae`, diffusers' `pipe.vae = other`) for
/// decoding and for encoding input images: an AutoencoderKL or AutoencoderTiny folder, or an
/// AutoencoderKL file (`VAEFiles`), and the SHA-256 of its bytes when it was named (a job
/// renders only with the same bytes): the file's, or for a folder the SHA-256 of the lines
/// `SHA-256  file name` of its config.json and weight files (`sha256sum`'s format).
public struct VAEReference: Sendable, Hashable, Codable {
    public var file: String
    public var sha256: String

    public init(file: String, sha256: String = "") { self.file = file; self.sha256 = sha256 }

    /// The file or folder name, for the PNG's parameters text (A1111's "VAE").
    public var name: String { (file as NSString).lastPathComponent }
}
