import Foundation
import ModelFiles
import Numerics

/// The VAE a pipeline codes images with: its own AutoencoderKL, or one given by `--vae`
/// (another AutoencoderKL, or an AutoencoderTiny).
public enum ImageAutoencoder: Sendable {
    case kl(AutoencoderKL)
    case tiny(AutoencoderTiny)

    public var latentChannels: Int {
        switch self {
        case .kl(let v): return v.config.latentChannels
        case .tiny(let v): return v.config.latentChannels
        }
    }

    /// The pipelines' `vae.config.scaling_factor` (1.0 for AutoencoderTiny).
    public var scalingFactor: Float {
        switch self {
        case .kl(let v): return v.config.scalingFactor
        case .tiny(let v): return v.config.scalingFactor
        }
    }

    public var downscaleFactor: Int {
        switch self {
        case .kl(let v): return v.config.downscaleFactor
        case .tiny(let v): return v.config.downscaleFactor
        }
    }

    /// Decodes latents already divided by the scaling factor (in tiles when `tiled`: AutoencoderKL only).
    public func decode(_ latents: Tensor, tiled: Bool) throws -> Tensor {
        switch self {
        case .kl(let v): return try v.decode(latents, tiled: tiled)
        case .tiny(let v):
            guard !tiled else { throw VAEError.tiledTiny }
            return v.decode(latents)
        }
    }
}

/// Why a VAE cannot be used as asked.
public enum VAEError: Error, CustomStringConvertible, Equatable {
    case tiledTiny

    public var description: String {
        switch self {
        case .tiledTiny: return "vae-tiling: an AutoencoderTiny VAE is not decoded in tiles (it needs little memory); leave out --vae-tiling"
        }
    }
}

extension VAEFiles {
    /// Latent channels and image-to-latent scale, from configs alone; a single file takes
    /// `pipelineConfig` (the pipeline VAE's config) and its own decoder's latent channels.
    public func shape(pipelineConfig: ConfigFile) throws -> (latentChannels: Int, downscaleFactor: Int) {
        switch className {
        case .autoencoderTiny:
            let c = try TinyVAEConfig(try tinyConfig())
            return (c.latentChannels, c.downscaleFactor)
        case .autoencoderKL:
            let c = try VAEConfig(config ?? pipelineConfig)
            return (latentChannels ?? c.latentChannels, c.downscaleFactor)
        }
    }

    /// The network, its layers built in `precision`; a single file with `pipelineConfig`.
    public func autoencoder(pipelineConfig: ConfigFile, precision: Precision = .fp32) throws -> ImageAutoencoder {
        let reader = WeightReader(source: weights, component: path).with(precision: precision)
        switch className {
        case .autoencoderKL: return .kl(try AutoencoderKL(config: VAEConfig(config ?? pipelineConfig), weights: reader))
        case .autoencoderTiny: return .tiny(try AutoencoderTiny(config: TinyVAEConfig(try tinyConfig()), weights: reader))
        }
    }

    func tinyConfig() throws -> ConfigFile {
        guard let config else { throw ModelFileError.missingFile(path: path + "/config.json", hint: "an AutoencoderTiny comes as a folder with its config.json") }
        return config
    }
}
