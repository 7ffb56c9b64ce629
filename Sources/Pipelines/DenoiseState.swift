import Foundation
import Imaging
import Numerics
import Schedulers

/// Where a render is between steps: the stage, its latents, the scheduler's state, the
/// generator, the index of the next step, and what a 9-channel or 4-channel inpainting stage
/// keeps from its start (image latents, the initial noise, the masked image's latents). Plain
/// values: a render saved after any step, in any stage, continues bit-identically.
public struct DenoiseState: Sendable, Codable {
    /// Index into the render's stages.
    public var stage: Int
    /// The stage's role ("base" or "refiner"), for the queue's checkpoints table.
    public var stageName: String
    public var latents: StoredTensor
    public var scheduler: SchedulerState
    public var generator: TorchGenerator
    /// Steps done in this stage (the next step's index).
    public var nextStep: Int
    /// Steps this stage runs.
    public var totalSteps: Int
    public var imageLatents: StoredTensor?
    public var noise: StoredTensor?
    public var maskedImageLatents: StoredTensor?
    /// The kinds of machine that ran the steps so far, in order, each once (nil in checkpoints
    /// saved before Kiln recorded them).
    public var platforms: [PlatformRecord]?

    enum CodingKeys: String, CodingKey {
        case stage, stageName, latents, scheduler, generator, nextStep, totalSteps, imageLatents, noise, maskedImageLatents, platforms
    }

    init(stage: Int, stageName: String, latents: StoredTensor, scheduler: SchedulerState, generator: TorchGenerator,
         nextStep: Int, totalSteps: Int, imageLatents: StoredTensor?, noise: StoredTensor?, maskedImageLatents: StoredTensor?) {
        self.stage = stage; self.stageName = stageName; self.latents = latents; self.scheduler = scheduler
        self.generator = generator; self.nextStep = nextStep; self.totalSteps = totalSteps
        self.imageLatents = imageLatents; self.noise = noise; self.maskedImageLatents = maskedImageLatents
    }

    /// Version 1 checkpoints (text-to-image, one stage) have no stage fields.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        stage = try c.decodeIfPresent(Int.self, forKey: .stage) ?? 0
        stageName = try c.decodeIfPresent(String.self, forKey: .stageName) ?? "base"
        latents = try c.decode(StoredTensor.self, forKey: .latents)
        scheduler = try c.decode(SchedulerState.self, forKey: .scheduler)
        generator = try c.decode(TorchGenerator.self, forKey: .generator)
        nextStep = try c.decode(Int.self, forKey: .nextStep)
        totalSteps = try c.decode(Int.self, forKey: .totalSteps)
        imageLatents = try c.decodeIfPresent(StoredTensor.self, forKey: .imageLatents)
        noise = try c.decodeIfPresent(StoredTensor.self, forKey: .noise)
        maskedImageLatents = try c.decodeIfPresent(StoredTensor.self, forKey: .maskedImageLatents)
        platforms = try c.decodeIfPresent([PlatformRecord].self, forKey: .platforms)
    }
}

/// The decoded inputs a request refers to by hash: the caller (command line or queue worker)
/// reads them from files or the database; the pipeline never opens a path of the request.
public struct RenderInputs: Sendable {
    public var image: RGBImage?
    public var mask: RGBImage?
    /// Channels-last latents `[n, h, w, 4]`, as `--denoising-end` writes them (NCHW in the file).
    public var latents: Tensor?
    /// The control images, one per ControlNet, in the request's order.
    public var controlImages: [RGBImage] = []
    public init(image: RGBImage? = nil, mask: RGBImage? = nil, latents: Tensor? = nil, controlImages: [RGBImage] = []) {
        self.image = image; self.mask = mask; self.latents = latents; self.controlImages = controlImages
    }
}

/// What a finished render gives back.
public enum RenderOutput: Sendable {
    /// 8-bit RGB images (after the watermark when it is on).
    case images([RGBImage])
    /// Latents when `denoisingEnd` stopped early (channels-last `[images, h, w, 4]`).
    case latents(Tensor)
}
