import Foundation
import ModelFiles
import Numerics
import Schedulers

/// One stage of a render: one call of a diffusers SDXL pipeline (text-to-image, image-to-image
/// or inpainting) with its model, its start and the part of the schedule it runs.
public struct StagePlan: Sendable, Equatable {
    public enum Role: String, Sendable, Codable { case base, refiner }

    /// Where the stage's latents come from.
    public enum Start: Sendable, Equatable {
        /// Seeded Gaussian noise (text-to-image).
        case noise
        /// The input image, encoded by the VAE.
        case image
        /// Latents: the previous stage's, or the request's `--latents` file.
        case latents
    }

    public var role: Role
    public var model: ModelReference
    public var start: Start
    /// Image-to-image strength (ignored when `denoisingStart` is set, as in diffusers).
    public var strength: Double
    public var denoisingStart: Double?
    public var denoisingEnd: Double?
    /// The mask applies (inpainting pipeline).
    public var inpaint: Bool

    /// Text-to-image runs the base pipeline's conditioning rules; the others the img2img/inpaint ones.
    public var isTextToImage: Bool { start == .noise && !inpaint }

    /// The stages of `request` rendered with `model` (and the request's refiner, if any).
    public static func stages(for request: RenderRequest, model given: ModelReference) -> [StagePlan] {
        var model = given
        // LoRAs and embeddings apply to the first model (the base, or a refiner rendering alone).
        model.loras = request.loras
        model.embeddings = request.embeddings
        model.unet = request.unet
        // Both stages run in the precision this machine gives the request (float32 without AVX512-BF16).
        let precision = Precision.effective(request.precision).precision
        model.precision = precision
        model.vae = request.vae
        // --variant picks the weight files of both models, as one from_pretrained(variant=) rule.
        model.variant = request.variant
        let start: Start = request.image != nil ? .image : (request.latents != nil ? .latents : .noise)
        let inpaint = request.mask != nil
        let strength = request.effectiveStrength
        guard let refinerPath = request.refiner else {
            return [StagePlan(role: .base, model: model, start: start, strength: strength,
                              denoisingStart: request.denoisingStart, denoisingEnd: request.denoisingEnd, inpaint: inpaint)]
        }
        var refiner = ModelReference(path: refinerPath, config: request.refinerConfig, precision: precision)
        // A --vae replaces every stage's VAE: the refiner decodes (and encodes) with it too.
        refiner.vae = request.vae
        refiner.variant = request.variant
        if let fraction = request.highNoiseFrac {
            // Ensemble of experts: the base runs the high-noise part, the refiner continues.
            return [StagePlan(role: .base, model: model, start: start, strength: strength,
                              denoisingStart: request.denoisingStart, denoisingEnd: fraction, inpaint: inpaint),
                    StagePlan(role: .refiner, model: refiner, start: .latents, strength: strength,
                              denoisingStart: fraction, denoisingEnd: nil, inpaint: inpaint)]
        }
        // Base then refiner: the refiner works on the finished latents as image-to-image.
        return [StagePlan(role: .base, model: model, start: start, strength: strength,
                          denoisingStart: request.denoisingStart, denoisingEnd: nil, inpaint: inpaint),
                StagePlan(role: .refiner, model: refiner, start: .latents, strength: request.refinerStrength,
                          denoisingStart: nil, denoisingEnd: nil, inpaint: inpaint)]
    }

    /// The stage's timesteps and the scheduler's begin index, as diffusers' `get_timesteps`
    /// (strength or `denoising_start`, with the second-order bump) and the `denoising_end` cut.
    public func timesteps(scheduler: any DiffusionScheduler, steps: Int, trainTimesteps: Int) -> (timesteps: [Float], begin: Int) {
        let all = scheduler.timesteps
        var begin = 0
        if !isTextToImage {
            if let start = denoisingStart {
                let cutoff = Float(Int((Double(trainTimesteps) - start * Double(trainTimesteps)).rounded(.toNearestOrEven)))
                var count = all.filter { $0 < cutoff }.count
                if scheduler.order == 2 && count % 2 == 0 { count += 1 }
                begin = max(all.count - count, 0)
            } else {
                let initial = min(Int(Double(steps) * strength), steps)
                begin = min(max(steps - initial, 0) * scheduler.order, all.count)
            }
        }
        var kept = Array(all[begin...])
        if let end = denoisingEnd {
            let cutoff = Float(Int((Double(trainTimesteps) - end * Double(trainTimesteps)).rounded(.toNearestOrEven)))
            kept = Array(kept.prefix(kept.filter { $0 >= cutoff }.count))
        }
        return (kept, begin)
    }
}
