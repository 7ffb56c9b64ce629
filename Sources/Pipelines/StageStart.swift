import Foundation
import Imaging
import Models
import Numerics
import Schedulers

/// A stage's first latents, and what 4- and 9-channel inpainting keep beside them.
struct StartLatents {
    var latents: Tensor
    var inpaint = InpaintLatents()
}

/// What inpainting keeps beside a stage's latents for all its steps (and its checkpoints).
struct InpaintLatents {
    /// The encoded original, blended back outside the mask by a 4-channel UNet's steps.
    var imageLatents: Tensor?
    /// The noise that blending adds to `imageLatents` at each step's level.
    var noise: Tensor?
    /// The encoded masked image, a 9-channel UNet's extra input (doubled under guidance).
    var maskedImageLatents: Tensor?
}

/// How a stage starts: one function per start, each the diffusers function it names, drawing
/// from the generator in that function's order (the order fixes every later draw, so a stage
/// gives diffusers' image for the same seed).
struct StageStart {
    let plan: StagePlan
    let setup: ActiveStage.Setup
    let model: StageModel
    let scheduler: any DiffusionScheduler
    let count: Int
    let tiledVAE: Bool
    /// `[n, h, w, c]` of the stage's latents.
    let latentShape: [Int]
    /// The input image as the VAE takes it (`image_processor.preprocess`, cropped), nil unless the stage starts from it.
    let image: Tensor?
    /// The latents handed over by the stage before, else the request's.
    let given: Tensor?

    init(plan: StagePlan, setup: ActiveStage.Setup, request: RenderRequest, inputs: RenderInputs, given: Tensor?, model: StageModel) throws {
        self.plan = plan; self.setup = setup; self.model = model; self.given = given
        scheduler = setup.schedule.scheduler
        count = request.images
        tiledVAE = request.vaeTiling
        latentShape = [count, setup.size.height / model.vaeScale, setup.size.width / model.vaeScale, model.vae.latentChannels]
        if plan.start == .image, let image = inputs.image {
            self.image = try ImageConditioning.imageTensor(image, size: setup.size, crop: setup.crop)
        } else {
            self.image = nil
        }
    }

    /// Whether the start is noised to the stage's first timestep (not when it continues at `denoising_start`).
    var addsNoise: Bool { plan.denoisingStart == nil }

    /// The stage's latents: the pipeline's `prepare_latents` for its mode.
    func latents(_ generator: inout TorchGenerator) throws -> StartLatents {
        if plan.isTextToImage { return fromNoise(&generator) }
        return plan.inpaint ? try forInpainting(&generator) : try fromImage(&generator)
    }

    /// `StableDiffusionXLPipeline.prepare_latents`: noise at the scheduler's first sigma.
    func fromNoise(_ generator: inout TorchGenerator) -> StartLatents {
        StartLatents(latents: draw(&generator).scaled(by: scheduler.initNoiseSigma))
    }

    /// `StableDiffusionXLImg2ImgPipeline.prepare_latents`: the encoded image (or the given
    /// latents) noised to the stage's first timestep.
    func fromImage(_ generator: inout TorchGenerator) throws -> StartLatents {
        let initial: Tensor
        if let image { initial = try encode(image, &generator) } else { initial = try givenLatents() }
        return StartLatents(latents: addsNoise ? scheduler.addNoise(initial, noise: draw(&generator)) : initial)
    }

    /// `StableDiffusionXLInpaintPipeline.prepare_latents`, then `prepare_mask_latents`: the
    /// original encoded unless a 9-channel UNet starts from pure noise, noise drawn, the start
    /// (pure noise at strength 1, else the noised original), then the masked image encoded for a
    /// 9-channel UNet, or its encoder's draw skipped for a 4-channel one.
    func forInpainting(_ generator: inout TorchGenerator) throws -> StartLatents {
        let strengthMax = plan.strength == 1.0
        var imageLatents: Tensor?
        if plan.start == .latents {
            imageLatents = try givenLatents()
        } else if let image, !model.isInpaintingModel || !strengthMax {
            imageLatents = try encode(image, &generator)
        }
        let noise = draw(&generator)
        var start: StartLatents
        if addsNoise && strengthMax {
            start = StartLatents(latents: noise.scaled(by: scheduler.initNoiseSigma))
        } else {
            guard let imageLatents else { throw RenderError.invalid(parameter: "image", reason: "no image to inpaint") }
            start = StartLatents(latents: addsNoise ? scheduler.addNoise(imageLatents, noise: noise) : imageLatents)
        }
        if let image, let pixelMask = setup.pixelMask {
            let masked = ImageConditioning.maskedImage(image, mask: pixelMask)
            if model.isInpaintingModel {
                let encoded = try encode(masked, &generator)
                start.inpaint.maskedImageLatents = setup.guidance ? Tensor.concatenateBatch([encoded, encoded]) : encoded
            } else {
                ImageConditioning.skipEncodeDraw(latentShape: [1] + latentShape.dropFirst(), vae: model.vae, generator: &generator)
            }
        }
        if !model.isInpaintingModel {  // only 4-channel blending uses them
            start.inpaint.imageLatents = imageLatents
            start.inpaint.noise = noise
        }
        return start
    }

    /// `randn_tensor` of the stage's latent shape (drawn NCHW as torch does).
    private func draw(_ generator: inout TorchGenerator) -> Tensor {
        generator.randn(NCHWShape.of(latentShape)).nchwToNHWC()
    }

    /// The VAE's latents of `pixels`, repeated per image (`retrieve_latents` with the generator).
    private func encode(_ pixels: Tensor, _ generator: inout TorchGenerator) throws -> Tensor {
        try ImageConditioning.encode(pixels, vae: model.vae, tiled: tiledVAE, generator: &generator).repeatedBatch(count)
    }

    /// The given latents, checked against the stage's latent shape and repeated per image.
    private func givenLatents() throws -> Tensor {
        guard let given else { throw RenderError.invalid(parameter: "latents", reason: "no latents to start from") }
        guard given.rank == 4, given.shape[3] == latentShape[3], given.shape[0] == 1 || given.shape[0] == count else {
            throw RenderError.invalid(parameter: "latents", reason: "shape \(given.shape) does not fit \(count) image(s) of \(latentShape[3]) latent channels")
        }
        return given.repeatedBatch(count)
    }
}
