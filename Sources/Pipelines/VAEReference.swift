import Foundation
import ModelFiles
import Models
import Numerics

extension VAEReference {
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
}
