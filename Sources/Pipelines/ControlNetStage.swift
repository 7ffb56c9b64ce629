import Foundation
import Imaging
import ModelFiles
import Models
import Numerics

/// What `StableDiffusionXLControlNetPipeline` (and its Img2Img and Inpaint siblings) add to a
/// base stage: the control images as `prepare_image` gives them, and each step's ControlNet
/// residuals (`controlnet_keep`, the scales, MultiControlNet's sum, guess mode's conditional-only
/// pass), computed from the 4-channel latents even when a 9-channel UNet takes more.
struct ControlStage {
    let settings: ControlNetSettings
    /// Per ControlNet: `[n, H, W, 3]` (guess mode or no guidance) or `[2n, H, W, 3]`, RGB in [0, 1].
    let images: [Tensor]
    /// Guess mode as the pipeline runs it: asked for, or forced by the first ControlNet's
    /// `global_pool_conditions` (not in the inpainting pipeline, which lacks that rule).
    let guessMode: Bool
    let guidance: Bool
    let imagesPerPrompt: Int
    /// `len(timesteps)`, over which `controlnet_keep` is computed: after the strength or
    /// denoising_start cut, before the denoising_end cut.
    let stepCount: Int
    /// Image-to-image (`StableDiffusionXLControlNetImg2ImgPipeline`): the default scale is 0.8.
    let imageToImage: Bool
    /// What the ControlNets are given: the UNet's, or its conditional half in guess mode with guidance.
    let conditioning: UNetConditioning
    let nets: [ModelCache.ControlNetEntry]

    init(settings: ControlNetSettings, images given: [RGBImage], size: PixelSize, imagesPerPrompt n: Int, guidance: Bool,
         conditioning: UNetConditioning, stepCount: Int, imageToImage: Bool, inpaint: Bool, crop: CropRegion?,
         precision: Precision, base: UNetConfig, models: ModelCache) throws {
        guard given.count == settings.models.count else {
            throw RenderError.invalid(parameter: "control-image", reason: "the control images were not provided")
        }
        nets = try settings.models.map { try ModelCache.ControlNetEntry(path: $0, precision: precision, base: base) }
        guessMode = settings.guessMode || !inpaint && nets[0].files.config.globalPoolConditions
        self.settings = settings; self.guidance = guidance; imagesPerPrompt = n; self.stepCount = stepCount; self.imageToImage = imageToImage
        let doubled = guidance && !guessMode
        images = try given.map { image in
            // control_image_processor.preprocess: RGB, resized (LANCZOS) to the output size (with
            // padding_mask_crop: cropped to the mask's region and fitted, as the input image), in [0, 1]; repeated.
            let resized = try ImageConditioning.fitted(image, size: size, crop: crop)
            let one = Tensor(uninitialized: [1, size.height, size.width, 3])
            let o = one.unsafePointer
            resized.pixels.withUnsafeBufferPointer { p in for i in 0..<p.count { o[i] = Float(p[i]) / 255 } }
            return one.repeatedBatch(doubled ? 2 * n : n)
        }
        if guessMode && guidance {
            let c = conditioning
            self.conditioning = UNetConditioning(encoderHiddenStates: c.encoderHiddenStates.rows(n..<(2 * n)),
                                                 textEmbeds: c.textEmbeds.rows(n..<(2 * n)), timeIDs: Array(c.timeIDs[n...]))
        } else {
            self.conditioning = conditioning
        }
    }

    /// The residuals for step `step` at `timestep`, given the UNet's scaled input `input` (both
    /// halves under guidance); nil when no ControlNet acts at this step.
    func residuals(step: Int, timestep: Float, input: Tensor, models: ModelCache) throws -> ControlNetResiduals? {
        let n = imagesPerPrompt
        let sample = guessMode && guidance ? input.rows(n..<(2 * n)) : input
        var total: ControlNetResiduals?
        for i in settings.models.indices {
            // Outside its window a ControlNet runs at scale 0 in diffusers, adding zeros: skipped here.
            let scale = settings.keeps(i, step: step, of: stepCount) ? settings.scale(i, imageToImage: imageToImage) : 0
            guard scale != 0 else { continue }
            let net = try models.controlNet(nets[i])
            let r = net(sample, timestep: timestep, conditioning: conditioning, condition: images[i], scale: Float(scale), guessMode: guessMode)
            total = total.map { $0 + r } ?? r
        }
        if guessMode && guidance { total = total?.zeroPadded(rows: n) }
        return total
    }

    /// Refuses ControlNets that do not fit the base model, from their configs alone (before any
    /// weight loads): each must exist, be an SDXL ControlNet and match the base UNet's sizes.
    static func checkFits(_ settings: ControlNetSettings, base: ModelReference) throws {
        guard !settings.models.isEmpty else { return }
        let files = try base.files()
        let unet = try UNetConfig(try files.config("unet")), vae = try VAEConfig(try files.config("vae"))
        for path in settings.models {
            do {
                try ControlNetFiles(path: path, base: unet).config.check(fits: unet, vaeScale: vae.downscaleFactor)
            } catch let error as ModelFileError {
                throw RenderError.invalid(parameter: "controlnet", reason: "\(error)")
            }
        }
    }
}

extension Tensor {
    /// Rows `range` of the leading axis.
    func rows(_ range: Range<Int>) -> Tensor {
        Tensor.concatenateBatch(range.map { slice(batch: $0) })
    }
}

extension ModelCache {
    /// A ControlNet as the cache holds it: its files, cache key and parameter bytes.
    struct ControlNetEntry {
        let files: ControlNetFiles
        let key: String
        let bytes: Int

        /// `base`: the UNet the ControlNet feeds, whose config a single-file ControlNet completes.
        init(path: String, precision: Precision, base: UNetConfig) throws {
            var files = try ControlNetFiles(path: path, base: base)
            files.precision = precision
            self.files = files
            key = "controlnet:" + files.contentHash + (precision == .fp32 ? "" : "@" + precision.rawValue)
            bytes = (try? files.weights().parameterCount).map { $0 * (precision == .bf16 ? 2 : 4) } ?? 0
        }
    }

    /// The ControlNet of `entry`, loaded on first use and held with the models' components (its
    /// bytes count in `heldBytes`; dropped with them when a model needs the room, loaded again when needed).
    func controlNet(_ entry: ControlNetEntry) throws -> ControlNetModel {
        let net = try components.component(entry.key, bytes: entry.bytes) { try entry.files.load() }
        notePeak()
        return net
    }
}

extension RenderSession {
    /// The content hash of each of the request's ControlNets, for provenance (nil without ControlNet).
    var controlNetHashes: [String]? {
        request.controlnet.models.isEmpty ? nil : request.controlnet.models.map { ControlNetFiles.contentHash(path: $0) }
    }
}
