import Foundation
import Imaging
import Models
import Numerics
import Schedulers

/// One stage while it runs: the values fixed for the stage (`Setup`: model, size, text
/// conditioning, schedule, masks) and the live ones (scheduler, generator, latents, step). Its
/// start (`StageStart`) follows diffusers' `prepare_latents` and `prepare_mask_latents` in their
/// order of generator draws; its step is the pipelines' loop body (9-channel input built before
/// the UNet, 4-channel inpainting blended after the scheduler step).
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
    /// Inpainting's fixed latents (the encoded original and its noise, the masked image).
    let inpaint: InpaintLatents

    var size: PixelSize { setup.size }
    var kind: SchedulerKind { setup.schedule.kind }
    var timesteps: [Float] { setup.schedule.timesteps }
    var usesNineChannels: Bool { setup.nineChannels }
    /// The stage's model, from the cache (loaded again only if something evicted it).
    func model() throws -> StageModel { try models.model(plan.model) }

    private init(index: Int, plan: StagePlan, request: RenderRequest, setup: Setup, models: ModelCache, scheduler: any DiffusionScheduler,
                 generator: TorchGenerator, latents: Tensor, inpaint: InpaintLatents, step: Int) {
        self.index = index; self.plan = plan; self.setup = setup; self.models = models
        guidanceScale = request.effectiveGuidance; guidanceRescale = request.guidanceRescale
        self.scheduler = scheduler; self.generator = generator; self.latents = latents; self.inpaint = inpaint; self.step = step
    }

    /// A fresh start: noise, the encoded input image, or latents (`handover`, else the request's),
    /// as `StageStart` makes them. The generator is the one `handover` carries on from the stage
    /// before, else seeded anew.
    init(index: Int, plan: StagePlan, schedule: StageSchedule, request: RenderRequest, inputs: RenderInputs,
         handover: StageHandover?, models: ModelCache) throws {
        let given = handover?.latents ?? inputs.latents
        let model = try models.model(plan.model)
        let setup = try Setup(plan: plan, schedule: schedule, request: request, inputs: inputs,
                              latentSize: given.map { ($0.shape[1], $0.shape[2]) }, model: model, models: models)
        var generator = handover?.generator ?? TorchGenerator(seed: request.seed)
        let start = try StageStart(plan: plan, setup: setup, request: request, inputs: inputs, given: given, model: model).latents(&generator)
        self.init(index: index, plan: plan, request: request, setup: setup, models: models, scheduler: schedule.scheduler,
                  generator: generator, latents: start.latents, inpaint: start.inpaint, step: 0)
    }

    /// Continues a saved stage.
    init(resuming state: DenoiseState, plan: StagePlan, schedule: StageSchedule, request: RenderRequest, inputs: RenderInputs,
         models: ModelCache) throws {
        let latents = try state.latents.tensor()
        guard latents.rank == 4 else { throw RenderError.invalid(parameter: "checkpoint", reason: "latents of shape \(latents.shape)") }
        let setup = try Setup(plan: plan, schedule: schedule, request: request, inputs: inputs,
                              latentSize: (latents.shape[1], latents.shape[2]), model: try models.model(plan.model), models: models)
        var scheduler = schedule.scheduler
        try scheduler.restore(state.scheduler)
        let inpaint = InpaintLatents(imageLatents: try state.imageLatents?.tensor(), noise: try state.noise?.tensor(),
                                     maskedImageLatents: try state.maskedImageLatents?.tensor())
        self.init(index: state.stage, plan: plan, request: request, setup: setup, models: models, scheduler: scheduler,
                  generator: state.generator, latents: latents, inpaint: inpaint, step: state.nextStep)
        if setup.blendMask != nil && (inpaint.imageLatents == nil || inpaint.noise == nil) || usesNineChannels && inpaint.maskedImageLatents == nil {
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
        if let unetMask = setup.unetMask, let maskedImageLatents = inpaint.maskedImageLatents {
            scaled = concatenateLastAxis([scaled, unetMask, maskedImageLatents])
        }
        var prediction = try model.unet(scaled, timestep: t, conditioning: setup.conditioning, residuals: residuals)
        if setup.guidance { prediction = applyGuidance(prediction, scale: guidanceScale, rescale: guidanceRescale) }
        latents = scheduler.step(modelOutput: prediction, sample: latents, generator: &generator)
        if let blendMask = setup.blendMask, let imageLatents = inpaint.imageLatents, let noise = inpaint.noise {
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
                     imageLatents: inpaint.imageLatents.map(StoredTensor.init), noise: inpaint.noise.map(StoredTensor.init),
                     maskedImageLatents: inpaint.maskedImageLatents.map(StoredTensor.init))
    }
}

/// What a finished stage passes to the next: its latents, and its generator when the request
/// continues one generator through both stages (nil: the next stage seeds its own).
struct StageHandover {
    let latents: Tensor
    let generator: TorchGenerator?
}
