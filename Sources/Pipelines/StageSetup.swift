import Foundation
import Imaging
import Models
import Numerics

extension ActiveStage {
    /// The fixed values of a stage, shared by a fresh start and a resume, made in the order
    /// diffusers' SDXL pipelines make them: the size, the model checks, the text conditioning
    /// (`encode_prompt`, `_get_add_time_ids`), the crop (`padding_mask_crop`), the ControlNet
    /// images, the masks (`mask_processor`, `prepare_mask_latents`' resize). The schedule is the
    /// one the session built for the stage.
    struct Setup {
        let size: PixelSize
        let nineChannels: Bool
        let modelHash: String
        let conditioning: UNetConditioning
        let guidance: Bool
        let schedule: StageSchedule
        /// An inpainting stage's masks, nil for the other stages.
        let masks: InpaintMasks?
        /// `padding_mask_crop`: the region around the mask that is rendered and pasted back.
        let crop: CropRegion?
        /// ControlNet's images and residuals (`StableDiffusionXLControlNet[Img2Img|Inpaint]Pipeline`), nil without it.
        let control: ControlStage?

        init(plan: StagePlan, schedule: StageSchedule, request: RenderRequest, inputs: RenderInputs,
             latentSize: (height: Int, width: Int)?, model: StageModel, models: ModelCache) throws {
            nineChannels = model.isInpaintingModel
            modelHash = model.contentHash
            size = try Setup.size(plan: plan, request: request, inputs: inputs, latentSize: latentSize, model: model)
            try Setup.checkChannels(plan: plan, model: model)
            let text = try TextConditioning(plan: plan, request: request, size: size, model: model)
            guidance = text.guidance
            conditioning = text.unet
            self.schedule = schedule
            if plan.inpaint, let pad = request.paddingMaskCrop, plan.start == .image, let mask = inputs.mask {
                crop = try CropRegion(mask: mask, width: size.width, height: size.height, pad: pad)
            } else {
                crop = nil
            }
            // controlnet_keep counts the steps after the strength or denoising_start cut, before denoising_end's.
            control = plan.role == .base && !request.controlnet.isEmpty
                ? try ControlStage(settings: request.controlnet, images: inputs.controlImages, size: size, imagesPerPrompt: request.images,
                                   guidance: guidance, conditioning: conditioning,
                                   stepCount: schedule.scheduler.timesteps.count - schedule.begin,
                                   imageToImage: !plan.isTextToImage && !plan.inpaint, inpaint: plan.inpaint, crop: crop,
                                   precision: plan.model.precision, base: model.unetConfig, models: models)
                : nil
            if plan.inpaint, let mask = inputs.mask {
                masks = try InpaintMasks(mask, size: size, crop: crop, model: model, guidance: guidance, count: request.images)
            } else {
                masks = nil
            }
        }

        var pixelMask: Tensor? { masks?.pixels }
        /// `[n, h, w, 1]`: where 4-channel inpainting keeps the denoised latents.
        var blendMask: Tensor? { masks?.blend }
        /// `[n or 2n, h, w, 1]`: the mask channel of a 9-channel UNet's input.
        var unetMask: Tensor? { masks?.unet }

        /// The pixel size the stage renders at: the request's, else its start's (the first control
        /// image's or the model's default for noise, the input image's, the latents'), a multiple
        /// of the VAE's scale. A refiner-style model is refused a start from noise.
        static func size(plan: StagePlan, request: RenderRequest, inputs: RenderInputs, latentSize: (height: Int, width: Int)?,
                         model: StageModel) throws -> PixelSize {
            let scale = model.vaeScale
            func sized(_ what: String, _ w: Int, _ h: Int) throws -> PixelSize {
                guard w >= scale, h >= scale, w % scale == 0, h % scale == 0 else {
                    throw RenderError.invalid(parameter: "width/height", reason: "\(what) gives \(w)x\(h); it must be at least \(scale) pixels and a multiple of \(scale)")
                }
                return PixelSize(width: w, height: h)
            }
            switch plan.start {
            case .noise:
                guard !model.usesAestheticScore else {
                    throw RenderError.invalid(parameter: "model", reason: "\(plan.model.path) is a refiner-style model (aesthetic score conditioning); give it an --image or --latents to work on")
                }
                // With ControlNet the size defaults to the first control image's, as the ControlNet pipeline's does.
                let d = inputs.controlImages.first.map { PixelSize(width: $0.width - $0.width % scale, height: $0.height - $0.height % scale) }
                    ?? model.defaultSize
                return try sized("the requested size", request.width ?? d.width, request.height ?? d.height)
            case .image:
                guard let image = inputs.image else { throw RenderError.invalid(parameter: "image", reason: "the input image was not provided") }
                let w = request.width ?? image.width - image.width % scale, h = request.height ?? image.height - image.height % scale
                return try sized("the input image (\(image.width)x\(image.height))", w, h)
            case .latents:
                guard let latent = latentSize else { throw RenderError.invalid(parameter: "latents", reason: "no latents to start from") }
                return try sized("the latents", latent.width * scale, latent.height * scale)
            }
        }

        /// A 9-channel inpainting UNet runs only an inpainting stage that starts from an image.
        static func checkChannels(plan: StagePlan, model: StageModel) throws {
            if plan.inpaint && model.isInpaintingModel && plan.start == .latents {
                throw RenderError.invalid(parameter: "refiner", reason: "\(plan.model.path) is a 9-channel inpainting model; it cannot continue from latents (use a 4-channel refiner)")
            }
            if !plan.inpaint && model.isInpaintingModel {
                throw RenderError.invalid(parameter: "mask", reason: "\(plan.model.path) is a 9-channel inpainting model; give it --image and --mask")
            }
        }
    }
}
