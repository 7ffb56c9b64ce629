import Foundation
import ModelFiles
import Models

/// The sizes that decide whether a model can run a stage and take the previous stage's
/// latents, read from its config files alone (no weights): checked for every stage before the
/// first step, so that a refiner that does not fit is refused before the base runs.
struct ModelShape {
    let reference: ModelReference
    let files: SDXLModelFiles
    /// The model's scheduler_config.json, read once for the stage's schedule and provenance.
    let schedulerConfig: ConfigFile
    let latentChannels: Int
    let vaeScale: Int
    let unetInChannels: Int
    let unetOutChannels: Int
    let crossAttentionDim: Int
    let textWidth: Int
    let timeIDCount: Int

    init(_ reference: ModelReference) throws {
        self.reference = reference
        let files = try reference.files()
        self.files = files
        schedulerConfig = try files.config("scheduler")
        let unet = try UNetConfig(try files.config("unet"))
        let vae = try VAEConfig(try files.config("vae"))
        let names = Set(files.components.map(\.name))
        let second = try CLIPTextConfig(try files.config("text_encoder_2"))
        let first = names.contains("text_encoder") ? try CLIPTextConfig(try files.config("text_encoder")) : nil
        latentChannels = vae.latentChannels
        vaeScale = vae.downscaleFactor
        if let replacement = reference.vae {
            // diffusers keeps the pipeline's vae_scale_factor when `pipe.vae` is replaced.
            let given = try replacement.open().shape(pipelineConfig: try files.config("vae"))
            guard given.latentChannels == unet.outChannels else {
                throw RenderError.invalid(parameter: "vae", reason: "\(replacement.file) codes \(given.latentChannels) latent channels but \(reference.path)'s UNet takes \(unet.outChannels); give a VAE made for this model")
            }
            guard given.downscaleFactor == vae.downscaleFactor else {
                throw RenderError.invalid(parameter: "vae", reason: "\(replacement.file) scales images by 1/\(given.downscaleFactor) but \(reference.path)'s VAE by 1/\(vae.downscaleFactor); give a VAE made for this model")
            }
        }
        unetInChannels = unet.inChannels
        unetOutChannels = unet.outChannels
        crossAttentionDim = unet.crossAttentionDim
        textWidth = (first?.hiddenSize ?? 0) + second.hiddenSize
        let extra = unet.projectionClassEmbeddingsInputDim - second.projectionDim
        timeIDCount = unet.additionTimeEmbedDim > 0 && extra % unet.additionTimeEmbedDim == 0 ? extra / unet.additionTimeEmbedDim : -1
    }

    /// Refuses a model whose parts do not fit each other or the stage before it, in one line.
    func check(after previous: ModelShape?) throws {
        let path = reference.path
        guard textWidth == crossAttentionDim else {
            throw RenderError.model("\(path): its text encoders give \(textWidth)-wide embeddings but its UNet's cross_attention_dim is \(crossAttentionDim); the text encoders and UNet are from different models")
        }
        guard timeIDCount == 5 || timeIDCount == 6 else {
            throw RenderError.model("\(path): its UNet's added embedding does not take SDXL's 6 (base) or 5 (refiner) micro-conditioning values with text_encoder_2's pooled size; it is not an SDXL model")
        }
        guard unetOutChannels == latentChannels, unetInChannels == latentChannels || unetInChannels == 2 * latentChannels + 1 else {
            throw RenderError.model("\(path): its UNet (\(unetInChannels) in, \(unetOutChannels) out) does not fit its VAE's \(latentChannels) latent channels")
        }
        if let previous {
            guard previous.latentChannels == latentChannels, previous.vaeScale == vaeScale else {
                throw RenderError.model("\(path): the refiner's latents (\(latentChannels) channels, 1/\(vaeScale) scale) do not fit the base's (\(previous.latentChannels) channels, 1/\(previous.vaeScale) scale)")
            }
        }
    }
}
