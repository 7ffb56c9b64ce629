import Adapters
import Foundation
import ModelFiles

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
    var infotext: String { "\(((file as NSString).lastPathComponent as NSString).deletingPathExtension): \(shortHash ?? String(sha256.prefix(12)))" }

    /// The files opened, each checked against its recorded hash.
    static func open(_ references: [LoRAReference]) throws -> [ScaledLoRA] {
        try references.map { r in
            let data = try InputFiles.readFile(r.file, parameter: "lora", limit: InputFiles.maxLoRABytes)
            let hash = SHA256.hex(data)
            if !r.sha256.isEmpty && hash != r.sha256 { throw AdapterError.changed(path: r.file, expected: r.sha256, found: hash) }
            return ScaledLoRA(file: try LoRAFile(path: r.file), scale: Float(r.scale))
        }
    }
}
