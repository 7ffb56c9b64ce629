import Foundation
import Imaging
import Models
import Numerics

/// A stage's text conditioning as diffusers' SDXL pipelines build it: `encode_prompt` (the
/// negative batch before the positive one under guidance, each repeated per image),
/// `_get_add_time_ids` for the micro-conditioning rows, and, for a UNet with
/// `time_cond_proj_dim` (LCM-SDXL), `get_guidance_scale_embedding` in place of guidance.
struct TextConditioning {
    /// diffusers' `do_classifier_free_guidance`: a scale above 1, and a UNet that does not embed it.
    let guidance: Bool
    let unet: UNetConditioning

    init(plan: StagePlan, request: RenderRequest, size: PixelSize, model: StageModel) throws {
        let guidanceEmbedding = model.unetConfig.timeCondProjDim
        let guidance = request.effectiveGuidance > 1 && guidanceEmbedding == nil
        let embeds = try model.prompts.encode(request, guidance: guidance)
        guard embeds.positive.shape[2] == model.crossAttentionDim else {
            throw RenderError.model("\(plan.model.path): its text encoders give \(embeds.positive.shape[2])-wide embeddings but its UNet takes \(model.crossAttentionDim)")
        }
        let n = request.images
        func repeated(_ t: Tensor) -> [Tensor] { Array(repeating: t, count: n) }
        var negatives: [Tensor] = [], negativePools: [Tensor] = []
        if guidance {
            guard let negative = embeds.negative, let negativePooled = embeds.negativePooled else {
                throw RenderError.model("\(plan.model.path): the prompt encoder gave no negative embeddings for guidance")
            }
            negatives = repeated(negative); negativePools = repeated(negativePooled)
        }
        let hidden = Tensor.concatenateBatch(negatives + repeated(embeds.positive))
        let pooled = Tensor.concatenateBatch(negativePools + repeated(embeds.pooled))
        let rows = TimeIDs.rows(for: request, size: size, textToImage: plan.isTextToImage, aesthetic: model.usesAestheticScore, guidance: guidance)
        self.guidance = guidance
        unet = UNetConditioning(encoderHiddenStates: hidden, textEmbeds: pooled, timeIDs: rows,
                                timestepCond: guidanceEmbedding.map { guidanceScaleEmbedding(request.effectiveGuidance - 1, dim: $0, count: n) })
    }
}

/// An inpainting stage's masks: the pixel mask (`mask_processor`, cropped with
/// `padding_mask_crop`), resized to the latents (`prepare_mask_latents`) and repeated per image,
/// then used one of two ways: a 4-channel UNet's latents are blended with it after each step, a
/// 9-channel UNet takes it as an input channel (doubled under guidance).
struct InpaintMasks {
    let pixels: Tensor
    /// `[n, h, w, 1]`, for a 4-channel UNet.
    let blend: Tensor?
    /// `[n or 2n, h, w, 1]`, for a 9-channel UNet.
    let unet: Tensor?

    init(_ mask: RGBImage, size: PixelSize, crop: CropRegion?, model: StageModel, guidance: Bool, count: Int) throws {
        let scale = model.vaeScale
        pixels = try ImageConditioning.maskTensor(mask, size: size, crop: crop)
        let latent = ImageConditioning.latentMask(pixels, height: size.height / scale, width: size.width / scale).repeatedBatch(count)
        blend = model.isInpaintingModel ? nil : latent
        unet = model.isInpaintingModel ? (guidance ? Tensor.concatenateBatch([latent, latent]) : latent) : nil
    }
}
