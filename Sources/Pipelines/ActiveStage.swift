import Foundation
import Imaging
import Models
import Numerics
import Schedulers

/// One stage while it runs: the values fixed for the stage (model, size, text conditioning,
/// timesteps, masks) and the live ones (scheduler, generator, latents, step). Its start follows
/// diffusers' `prepare_latents` and `prepare_mask_latents` in their order of generator draws;
/// its step is the pipelines' loop body (9-channel input built before the UNet, 4-channel
/// inpainting blended after the scheduler step).
struct ActiveStage {
    let index: Int
    let plan: StagePlan
    let setup: Setup
    /// Where the stage's model is held; the stage does not keep the model itself, so that the
    /// cache can drop it before the next stage's model loads.
    let models: ModelCache
    let guidanceScale: Float
    let guidanceRescale: Float
    var scheduler: any DiffusionScheduler
    var generator: TorchGenerator
    var latents: Tensor
    var step: Int
    var imageLatents: Tensor?
    var noise: Tensor?
    var maskedImageLatents: Tensor?

    var size: PixelSize { setup.size }
    var kind: SchedulerKind { setup.schedule.kind }
    var timesteps: [Float] { setup.schedule.timesteps }
    var usesNineChannels: Bool { setup.nineChannels }
    /// The stage's model, from the cache (loaded again only if something evicted it).
    func model() throws -> StageModel { try models.model(plan.model) }

    /// The fixed values of a stage, shared by a fresh start and a resume.
    struct Setup {
        let size: PixelSize
        let nineChannels: Bool
        let modelHash: String
        let conditioning: UNetConditioning
        let guidance: Bool
        let schedule: StageSchedule
        let pixelMask: Tensor?
        /// `padding_mask_crop`: the region around the mask that is rendered and pasted back.
        let crop: CropRegion?
        /// `[n, h, w, 1]`: where 4-channel inpainting keeps the denoised latents.
        let blendMask: Tensor?
        /// `[n or 2n, h, w, 1]`: the mask channel of a 9-channel UNet's input.
        let unetMask: Tensor?
        /// ControlNet's images and residuals (`StableDiffusionXLControlNet[Img2Img|Inpaint]Pipeline`), nil without it.
        let control: ControlStage?

        init(plan: StagePlan, request: RenderRequest, inputs: RenderInputs, latentSize: (height: Int, width: Int)?,
             models: ModelCache) throws {
            let model = try models.model(plan.model)
            nineChannels = model.isInpaintingModel
            modelHash = model.contentHash
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
                size = try sized("the requested size", request.width ?? d.width, request.height ?? d.height)
            case .image:
                guard let image = inputs.image else { throw RenderError.invalid(parameter: "image", reason: "the input image was not provided") }
                let w = request.width ?? image.width - image.width % scale, h = request.height ?? image.height - image.height % scale
                size = try sized("the input image (\(image.width)x\(image.height))", w, h)
            case .latents:
                guard let latent = latentSize else { throw RenderError.invalid(parameter: "latents", reason: "no latents to start from") }
                size = try sized("the latents", latent.width * scale, latent.height * scale)
            }
            if plan.inpaint && model.isInpaintingModel && plan.start == .latents {
                throw RenderError.invalid(parameter: "refiner", reason: "\(plan.model.path) is a 9-channel inpainting model; it cannot continue from latents (use a 4-channel refiner)")
            }
            if !plan.inpaint && model.isInpaintingModel {
                throw RenderError.invalid(parameter: "mask", reason: "\(plan.model.path) is a 9-channel inpainting model; give it --image and --mask")
            }
            // diffusers' do_classifier_free_guidance: off for a UNet that embeds the guidance scale (LCM-SDXL).
            let guidanceEmbedding = model.unetConfig.timeCondProjDim
            guidance = request.effectiveGuidance > 1 && guidanceEmbedding == nil
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
            conditioning = UNetConditioning(encoderHiddenStates: hidden, textEmbeds: pooled, timeIDs: rows,
                                            timestepCond: guidanceEmbedding.map { guidanceScaleEmbedding(request.effectiveGuidance - 1, dim: $0, count: n) })
            schedule = try StageSchedule(plan: plan, request: request, schedulerConfig: model.schedulerConfig)
            if plan.inpaint, let pad = request.paddingMaskCrop, plan.start == .image, let mask = inputs.mask {
                crop = try CropRegion(mask: mask, width: size.width, height: size.height, pad: pad)
            } else {
                crop = nil
            }
            // controlnet_keep counts the steps after the strength or denoising_start cut, before denoising_end's.
            control = plan.role == .base && !request.controlnet.isEmpty
                ? try ControlStage(settings: request.controlnet, images: inputs.controlImages, size: size, imagesPerPrompt: n,
                                   guidance: guidance, conditioning: conditioning,
                                   stepCount: schedule.scheduler.timesteps.count - schedule.begin,
                                   imageToImage: !plan.isTextToImage && !plan.inpaint, inpaint: plan.inpaint, crop: crop,
                                   precision: plan.model.precision, base: model.unetConfig, models: models)
                : nil
            if plan.inpaint, let mask = inputs.mask {
                let pixels = try ImageConditioning.maskTensor(mask, size: size, crop: crop)
                let latent = ImageConditioning.latentMask(pixels, height: size.height / scale, width: size.width / scale).repeatedBatch(n)
                pixelMask = pixels
                blendMask = model.isInpaintingModel ? nil : latent
                unetMask = model.isInpaintingModel ? (guidance ? Tensor.concatenateBatch([latent, latent]) : latent) : nil
            } else {
                pixelMask = nil; blendMask = nil; unetMask = nil
            }
        }
    }

    private init(index: Int, plan: StagePlan, request: RenderRequest, setup: Setup, models: ModelCache, scheduler: any DiffusionScheduler,
                 generator: TorchGenerator, latents: Tensor, step: Int) {
        self.index = index; self.plan = plan; self.setup = setup; self.models = models
        guidanceScale = request.effectiveGuidance; guidanceRescale = request.guidanceRescale
        self.scheduler = scheduler; self.generator = generator; self.latents = latents; self.step = step
    }

    /// A fresh start: noise, the encoded input image, or latents (`handover`, else the request's).
    /// The generator is the one `handover` carries on from the stage before, else seeded anew.
    init(index: Int, plan: StagePlan, request: RenderRequest, inputs: RenderInputs, handover: StageHandover?, models: ModelCache) throws {
        let given = handover?.latents ?? inputs.latents
        let setup = try Setup(plan: plan, request: request, inputs: inputs,
                              latentSize: given.map { ($0.shape[1], $0.shape[2]) }, models: models)
        let model = try models.model(plan.model), n = request.images
        var generator = handover?.generator ?? TorchGenerator(seed: request.seed)
        let scheduler = setup.schedule.scheduler
        let latentShape = [n, setup.size.height / model.vaeScale, setup.size.width / model.vaeScale, model.vae.latentChannels]
        func draw() -> Tensor { generator.randn(NCHWShape.of(latentShape)).nchwToNHWC() }
        func startLatents() throws -> Tensor {
            guard let given else { throw RenderError.invalid(parameter: "latents", reason: "no latents to start from") }
            guard given.rank == 4, given.shape[3] == latentShape[3], given.shape[0] == 1 || given.shape[0] == n else {
                throw RenderError.invalid(parameter: "latents", reason: "shape \(given.shape) does not fit \(n) image(s) of \(latentShape[3]) latent channels")
            }
            return given.repeatedBatch(n)
        }
        var imageTensor: Tensor?
        if plan.start == .image, let image = inputs.image {
            imageTensor = try ImageConditioning.imageTensor(image, size: setup.size, crop: setup.crop)
        }
        let addNoise = plan.denoisingStart == nil
        var latents: Tensor
        var imageLatents: Tensor?, noise: Tensor?, maskedImageLatents: Tensor?
        if plan.isTextToImage {
            latents = draw().scaled(by: scheduler.initNoiseSigma)
        } else if !plan.inpaint {
            // StableDiffusionXLImg2ImgPipeline.prepare_latents
            let initial: Tensor
            if let imageTensor {
                initial = try ImageConditioning.encode(imageTensor, vae: model.vae, tiled: request.vaeTiling, generator: &generator).repeatedBatch(n)
            } else {
                initial = try startLatents()
            }
            latents = addNoise ? scheduler.addNoise(initial, noise: draw()) : initial
        } else {
            // StableDiffusionXLInpaintPipeline.prepare_latents, then prepare_mask_latents
            let strengthMax = plan.strength == 1.0
            if plan.start == .latents {
                imageLatents = try startLatents()
            } else if let imageTensor, !model.isInpaintingModel || !strengthMax {
                imageLatents = try ImageConditioning.encode(imageTensor, vae: model.vae, tiled: request.vaeTiling, generator: &generator).repeatedBatch(n)
            }
            let drawn = draw()
            noise = drawn
            if addNoise {
                if strengthMax {
                    latents = drawn.scaled(by: scheduler.initNoiseSigma)
                } else {
                    guard let imageLatents else { throw RenderError.invalid(parameter: "image", reason: "no image to inpaint") }
                    latents = scheduler.addNoise(imageLatents, noise: drawn)
                }
            } else {
                guard let imageLatents else { throw RenderError.invalid(parameter: "image", reason: "no image to inpaint") }
                latents = imageLatents
            }
            if let imageTensor, let pixelMask = setup.pixelMask {
                let masked = ImageConditioning.maskedImage(imageTensor, mask: pixelMask)
                if model.isInpaintingModel {
                    let encoded = try ImageConditioning.encode(masked, vae: model.vae, tiled: request.vaeTiling, generator: &generator).repeatedBatch(n)
                    maskedImageLatents = setup.guidance ? Tensor.concatenateBatch([encoded, encoded]) : encoded
                } else {
                    ImageConditioning.skipEncodeDraw(latentShape: [1] + latentShape.dropFirst(), vae: model.vae, generator: &generator)
                }
            }
            if model.isInpaintingModel {
                imageLatents = nil; noise = nil  // only 4-channel blending uses them
            }
        }
        self.init(index: index, plan: plan, request: request, setup: setup, models: models, scheduler: scheduler, generator: generator,
                  latents: latents, step: 0)
        self.imageLatents = imageLatents; self.noise = noise; self.maskedImageLatents = maskedImageLatents
    }

    /// Continues a saved stage.
    init(resuming state: DenoiseState, plan: StagePlan, request: RenderRequest, inputs: RenderInputs, models: ModelCache) throws {
        let latents = try state.latents.tensor()
        guard latents.rank == 4 else { throw RenderError.invalid(parameter: "checkpoint", reason: "latents of shape \(latents.shape)") }
        let setup = try Setup(plan: plan, request: request, inputs: inputs, latentSize: (latents.shape[1], latents.shape[2]), models: models)
        var scheduler = setup.schedule.scheduler
        try scheduler.restore(state.scheduler)
        self.init(index: state.stage, plan: plan, request: request, setup: setup, models: models, scheduler: scheduler,
                  generator: state.generator, latents: latents, step: state.nextStep)
        imageLatents = try state.imageLatents?.tensor()
        noise = try state.noise?.tensor()
        maskedImageLatents = try state.maskedImageLatents?.tensor()
        if setup.blendMask != nil && (imageLatents == nil || noise == nil) || usesNineChannels && maskedImageLatents == nil {
            throw RenderError.invalid(parameter: "checkpoint", reason: "lacks the inpainting latents of its stage")
        }
    }

    /// One step of the pipelines' loop.
    mutating func runStep() throws {
        let model = try model()
        let t = timesteps[step]
        let input = setup.guidance ? Tensor.concatenateBatch([latents, latents]) : latents
        var scaled = scheduler.scaleModelInput(input)
        let residuals = try setup.control?.residuals(step: step, timestep: t, input: scaled, models: models)
        if let unetMask = setup.unetMask, let maskedImageLatents {
            scaled = concatenateLastAxis([scaled, unetMask, maskedImageLatents])
        }
        var prediction = try model.unet(scaled, timestep: t, conditioning: setup.conditioning, residuals: residuals)
        if setup.guidance { prediction = applyGuidance(prediction, scale: guidanceScale, rescale: guidanceRescale) }
        latents = scheduler.step(modelOutput: prediction, sample: latents, generator: &generator)
        if let blendMask = setup.blendMask, let imageLatents, let noise {
            // The original, noised to the next step's level (not after the last step), kept outside the mask.
            let proper = step < timesteps.count - 1 ? scheduler.addNoise(imageLatents, noise: noise) : imageLatents
            let out = Tensor(uninitialized: latents.shape)
            let c = latents.shape[3], pixels = latents.count / c
            let m = blendMask.unsafePointer, p = proper.unsafePointer, l = latents.unsafePointer, o = out.unsafePointer
            for i in 0..<pixels {
                let keep = m[i]
                for k in 0..<c { o[i * c + k] = (1 - keep) * p[i * c + k] + keep * l[i * c + k] }
            }
            latents = out
        }
        step += 1
    }

    /// What the next stage starts from: these latents and, when the request continues one
    /// generator through its stages, this generator.
    func handover(continuingGenerator: Bool) -> StageHandover {
        StageHandover(latents: latents, generator: continuingGenerator ? generator : nil)
    }

    func snapshot() -> DenoiseState {
        DenoiseState(stage: index, stageName: plan.role.rawValue, latents: StoredTensor(latents), scheduler: scheduler.savedState(),
                     generator: generator, nextStep: step, totalSteps: timesteps.count,
                     imageLatents: imageLatents.map(StoredTensor.init), noise: noise.map(StoredTensor.init),
                     maskedImageLatents: maskedImageLatents.map(StoredTensor.init))
    }
}

/// What a finished stage passes to the next: its latents, and its generator when the request
/// continues one generator through both stages (nil: the next stage seeds its own).
struct StageHandover {
    let latents: Tensor
    let generator: TorchGenerator?
}
