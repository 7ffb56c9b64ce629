import Foundation
import Imaging
import ModelFiles
import Models
import Numerics
import Schedulers

/// One render in every mode, as a loop over stages: diffusers' SDXL text-to-image, img2img and
/// inpaint pipelines, and two of them chained for a refiner (ensemble of experts through
/// `denoising_end`/`denoising_start`, or base then refiner as img2img). Each stage starts from
/// noise, an encoded image or latents, runs its part of its own scheduler's timesteps, and hands
/// its latents to the next. The scheduler stays alive between steps; `snapshot()` gives the plain
/// state to checkpoint and `init(resuming:)` continues from it bit-identically, in any stage.
/// A session is driven by one thread (its state is not guarded), so it is not `Sendable`.
public final class RenderSession {
    public let request: RenderRequest
    public let stages: [StagePlan]
    /// Steps of each stage.
    public let stepCounts: [Int]
    let models: ModelCache
    let inputs: RenderInputs
    var active: ActiveStage
    /// Each stage's model as its config files describe it (read once, before any weights).
    let shapes: [ModelShape]
    /// Each stage's scheduler kind, timesteps and fresh scheduler, built once from its shape.
    let schedules: [StageSchedule]
    /// What each stage that has started ran with (provenance).
    public private(set) var records: [StageRecord] = []
    /// The kinds of machine that have run this render's steps (this one last), each once.
    public let platforms: [PlatformRecord]
    /// What the caller should tell the user before the render starts (one line each), e.g. that
    /// bf16 runs as float32 on this CPU, or that a prompt was cut at 77 tokens.
    public private(set) var notices: [String]

    /// Prepares the render and its first stage (or, with `state`, the stage it was saved in),
    /// validating `request` first (callers that hold a `ValidatedRequest` pass that).
    public convenience init(request: RenderRequest, model: ModelReference, inputs: RenderInputs = RenderInputs(),
                            models: ModelCache, resuming state: DenoiseState? = nil) throws {
        try self.init(validated: ValidatedRequest(request), model: model, inputs: inputs, models: models, resuming: state)
    }

    /// Prepares the render of a request validated where it entered: each stage's model shape
    /// and schedule are built once here, then its first stage (or, with `state`, the saved one).
    public init(validated: ValidatedRequest, model: ModelReference, inputs: RenderInputs = RenderInputs(),
                models: ModelCache, resuming state: DenoiseState? = nil) throws {
        let request = validated.request
        if request.image != nil && inputs.image == nil { throw RenderError.invalid(parameter: "image", reason: "the input image was not provided") }
        if request.mask != nil && inputs.mask == nil { throw RenderError.invalid(parameter: "mask", reason: "the mask image was not provided") }
        if request.latents != nil && inputs.latents == nil { throw RenderError.invalid(parameter: "latents", reason: "the latents were not provided") }
        self.request = request
        self.models = models
        self.inputs = inputs
        let stages = StagePlan.stages(for: request, model: model)
        self.stages = stages
        var shapes: [ModelShape] = []
        for plan in stages {
            let shape = try ModelShape(plan.model)
            try shape.check(after: shapes.last)
            shapes.append(shape)
        }
        self.shapes = shapes
        try ControlStage.checkFits(request.controlnet, base: stages[0].model)
        if inputs.controlImages.count != request.controlnet.images.count {
            throw RenderError.invalid(parameter: "control-image", reason: "the control images were not provided")
        }
        // One schedule per stage, from the scheduler config its shape read: the step counts,
        // the records and the running stage all take theirs from here.
        var schedules: [StageSchedule] = []
        for (plan, shape) in zip(stages, shapes) {
            let schedule = try StageSchedule(plan: plan, request: request, schedulerConfig: shape.schedulerConfig)
            guard schedule.timesteps.count >= 1 else {
                throw RenderError.invalid(parameter: plan.denoisingStart != nil ? "denoising-start" : "strength",
                                          reason: "leaves no step to run in the \(plan.role.rawValue) stage with \(request.steps) steps; raise it or --steps")
            }
            schedules.append(schedule)
        }
        self.schedules = schedules
        let counts = schedules.map(\.timesteps.count)
        stepCounts = counts
        let earlier = state?.platforms ?? []
        let precision = Precision.effective(request.precision)
        var here = PlatformRecord.current
        if request.precision != .fp32 { here.precision = precision.precision.rawValue }
        platforms = earlier.contains(here) ? earlier : earlier + [here]
        notices = [precision.notice].compactMap { $0 }
        if let state {
            guard state.stage >= 0, state.stage < stages.count, state.totalSteps == counts[state.stage],
                  state.nextStep >= 0, state.nextStep <= state.totalSteps else {
                throw RenderError.invalid(parameter: "checkpoint", reason: "does not belong to this request (stage \(state.stage), step \(state.nextStep) of \(state.totalSteps))")
            }
            active = try ActiveStage(resuming: state, plan: stages[state.stage], schedule: schedules[state.stage],
                                     request: request, inputs: inputs, models: models)
            // Stages before the saved one ran in an earlier process; record what they ran with.
            for (i, plan) in stages.prefix(state.stage).enumerated() {
                records.append(StageRecord(plan: plan, modelHash: shapes[i].files.contentHash(), kind: schedules[i].kind, steps: counts[i]))
            }
        } else {
            active = try ActiveStage(index: 0, plan: stages[0], schedule: schedules[0], request: request, inputs: inputs,
                                     handover: nil, models: models)
        }
        records.append(StageRecord(active: active))
        notices += try active.model().prompts.truncationNotices(request)
        notices += StagePlan.variantNotices(stages)
    }

    /// The stage running now.
    public var stage: Int { active.index }
    public var stageName: String { active.plan.role.rawValue }
    /// Steps done over all stages, and steps in all.
    public var completedSteps: Int { stepCounts.prefix(active.index).reduce(0, +) + active.step }
    public var totalSteps: Int { stepCounts.reduce(0, +) }
    public var isFinished: Bool { active.index == stages.count - 1 && active.step == active.timesteps.count }
    /// The pixel size the stages render at.
    public var size: PixelSize { active.size }
    /// The size of the output images: the input image's when `padding_mask_crop` pastes the
    /// rendered region back onto it, else the rendered size.
    public var outputSize: PixelSize {
        guard active.setup.crop != nil, let image = inputs.image else { return size }
        return PixelSize(width: image.width, height: image.height)
    }
    public var schedulerKind: SchedulerKind { active.kind }

    /// Runs one UNet step; after a stage's last step the next stage begins from its latents.
    public func advance() throws {
        guard !isFinished else { return }
        try active.runStep()
        if active.step == active.timesteps.count, active.index + 1 < stages.count {
            try beginNextStage()
        }
    }

    /// Starts the stage after the finished one from its latents and, for requests that continue
    /// one generator (version 3 on), from its generator's state, as diffusers' refiner continues a
    /// `torch.Generator` the base pipeline has drawn from.
    private func beginNextStage() throws {
        let next = stages[active.index + 1]
        models.prepare(for: next.model, after: active.plan.model)
        let handover = active.handover(continuingGenerator: request.continuesGenerator)
        active = try ActiveStage(index: active.index + 1, plan: next, schedule: schedules[active.index + 1], request: request,
                                 inputs: inputs, handover: handover, models: models)
        records.append(StageRecord(active: active))
    }

    /// The plain state to checkpoint.
    public func snapshot() -> DenoiseState {
        var state = active.snapshot()
        state.platforms = platforms
        return state
    }

    /// Decodes the final latents to images (or returns them when the request stops early).
    public func finish() throws -> RenderOutput {
        guard isFinished else { throw RenderError.invalid(parameter: "render", reason: "finish called before the last step") }
        let model = active.plan.model.path
        // NaN or Inf weights (or an overflow) would otherwise give an all-black PNG and exit 0.
        guard RenderSession.isFinite(active.latents) else {
            throw RenderError.model("\(model): the render gave NaN or infinite latents; the model's weights hold NaN/Inf values"
                                    + " (or overflow in float32): check or re-download its files")
        }
        if active.plan.denoisingEnd != nil { return .latents(active.latents) }
        let vae = try active.model().vae
        models.denoisingDone(with: active.plan.model)
        let decoded = try vae.decode(active.latents.divided(by: vae.scalingFactor), tiled: request.vaeTiling)
        guard RenderSession.isFinite(decoded) else {
            throw RenderError.model("\(model): its VAE decoded NaN or infinite pixels; the vae weights hold NaN/Inf values"
                                    + " (or overflow in float32): check or re-download its files")
        }
        var images: [RGBImage] = []
        for i in 0..<decoded.shape[0] {
            var pixels = decoded.slice(batch: i)
            if request.watermark { pixels = InvisibleWatermark.sdxl.apply(toDecoded: pixels) }
            var image = RGBImage(decoded: pixels)
            if let crop = active.setup.crop, let original = inputs.image, let mask = inputs.mask {
                image = try applyOverlay(mask: mask, original: original, image: image, crop: crop)
            }
            images.append(image)
        }
        return .images(images)
    }

    /// Whether every element of `t` is finite.
    static func isFinite(_ t: Tensor) -> Bool {
        let p = t.unsafePointer
        for i in 0..<t.count where !p[i].isFinite { return false }
        return true
    }

    /// The whole render. `progress(done, total)` is called after every step; returning false cancels.
    public func run(progress: (Int, Int) -> Bool = { _, _ in true }) throws -> RenderOutput {
        while !isFinished {
            try advance()
            guard progress(completedSteps, totalSteps) else { throw RenderError.cancelled }
        }
        return try finish()
    }
}

extension Tensor {
    /// Each element divided by `d` (as torch's `latents / scaling_factor`).
    func divided(by d: Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let s = unsafePointer, o = out.unsafePointer
        for i in 0..<count { o[i] = s[i] / d }
        return out
    }

    /// The batch repeated to `n` (diffusers' `repeat` / `cat([x] * k)` of a single item).
    func repeatedBatch(_ n: Int) -> Tensor {
        shape[0] == n ? self : Tensor.concatenateBatch(Array(repeating: self, count: n))
    }
}

/// The scheduler kind, scheduler and timesteps of one stage.
struct StageSchedule {
    let kind: SchedulerKind
    let scheduler: any DiffusionScheduler
    let timesteps: [Float]
    let begin: Int

    init(plan: StagePlan, request: RenderRequest, schedulerConfig: ConfigFile) throws {
        kind = request.scheduler ?? SchedulerKind(modelClass: try? schedulerConfig.string("_class_name"))
        var scheduler = try kind.make(config: schedulerConfig, steps: request.steps, eta: request.eta, overrides: request.schedulerConfig,
                                      timesteps: request.timesteps, sigmas: request.sigmas)
        let train = (try? schedulerConfig.int("num_train_timesteps", default: 1000)) ?? 1000
        // With custom timesteps or sigmas, diffusers' retrieve_timesteps makes num_inference_steps
        // the scheduler's own count (Heun's 2n - 1), which image-to-image's get_timesteps cuts.
        let steps = request.timesteps != nil || request.sigmas != nil ? scheduler.timesteps.count : request.steps
        (timesteps, begin) = plan.timesteps(scheduler: scheduler, steps: steps, trainTimesteps: train)
        if !plan.isTextToImage { scheduler.setBeginIndex(begin) }
        self.scheduler = scheduler
    }
}

/// A stage's record (RenderRecord) from what it ran.
extension StageRecord {
    init(plan: StagePlan, modelHash: String, kind: SchedulerKind, steps: Int) {
        self.init(role: plan.role.rawValue, model: plan.model.path, modelHash: modelHash,
                  mode: plan.isTextToImage ? "text-to-image" : (plan.inpaint ? "inpainting" : "image-to-image"),
                  scheduler: kind.rawValue, schedulerClass: kind.diffusersClass, steps: steps,
                  strength: plan.isTextToImage || plan.denoisingStart != nil ? nil : plan.strength,
                  denoisingStart: plan.denoisingStart, denoisingEnd: plan.denoisingEnd)
    }

    init(active: ActiveStage) {
        self.init(plan: active.plan, modelHash: active.setup.modelHash, kind: active.kind, steps: active.timesteps.count)
    }
}
