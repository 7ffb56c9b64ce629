import Foundation
import ModelFiles
import Models
import Numerics

/// A VAE a render swaps in for its models' own (`--vae`, diffusers' `pipe.vae = other`) for
/// decoding and for encoding input images: an AutoencoderKL or AutoencoderTiny folder, or an
/// AutoencoderKL file (`VAEFiles`), and the SHA-256 of its bytes when it was named (a job
/// renders only with the same bytes): the file's, or for a folder the SHA-256 of the lines
/// `SHA-256  file name` of its config.json and weight files (`sha256sum`'s format).
public struct VAEReference: Sendable, Hashable, Codable {
    public var file: String
    public var sha256: String

    public init(file: String, sha256: String = "") { self.file = file; self.sha256 = sha256 }

    /// Latent channels SDXL's UNets denoise.
    static let sdxlLatentChannels = 4

    /// Opens the VAE's config and tensor headers; errors are one line naming `--vae`.
    func open() throws -> VAEFiles {
        do { return try VAEFiles(path: file) } catch let error as ModelFileError { throw RenderError.invalid(parameter: "vae", reason: "\(error)") }
    }

    /// The hash of the VAE's bytes, after checking that it is a VAE an SDXL pipeline can take:
    /// 4 latent channels, and no tiling for an AutoencoderTiny.
    func resolvedHash(tiling: Bool) throws -> String {
        let files = try open()
        if let channels = files.latentChannels, channels != VAEReference.sdxlLatentChannels {
            throw RenderError.invalid(parameter: "vae", reason: "\(file) codes \(channels) latent channels but SDXL's UNets take \(VAEReference.sdxlLatentChannels); give an SDXL VAE")
        }
        if tiling && files.className == .autoencoderTiny { throw RenderError.invalid(parameter: "vae-tiling", reason: "\(VAEError.tiledTiny)".replacingOccurrences(of: "vae-tiling: ", with: "")) }
        return try VAEReference.hash(files)
    }

    static func hash(_ files: VAEFiles) throws -> String {
        do { return try files.sha256() } catch let error as ModelFileError { throw RenderError.invalid(parameter: "vae", reason: "\(error)") }
    }

    /// Opens the VAE and checks its bytes against the recorded hash (a VAE changed since the job
    /// was added is refused).
    func verified() throws -> VAEFiles {
        let files = try open()
        guard !sha256.isEmpty else { return files }
        let found = try VAEReference.hash(files)
        guard found == sha256 else {
            throw RenderError.invalid(parameter: "vae", reason: "\(file) changed since the job was added (SHA-256 \(found.prefix(12)), recorded \(sha256.prefix(12))); add the job again")
        }
        return files
    }

    /// The model cache's key for the network built from it.
    func componentKey(precision: Precision) -> String {
        "vae:" + (sha256.isEmpty ? file : sha256) + (precision == .fp32 ? "" : "@" + precision.rawValue)
    }

    /// The file or folder name, for the PNG's parameters text (A1111's "VAE").
    var name: String { (file as NSString).lastPathComponent }
}
