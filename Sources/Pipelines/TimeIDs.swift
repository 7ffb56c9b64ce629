/// SDXL micro-conditioning rows as diffusers' pipelines build them (`_get_add_time_ids`).
enum TimeIDs {
    /// Base: original (h, w) + crop (top, left) + target (h, w).
    static func base(original: PixelSize, crop: CropOffset, target: PixelSize) -> [Float] {
        [original.height, original.width, crop.top, crop.left, target.height, target.width].map(Float.init)
    }

    /// Refiner-style: original (h, w) + crop (top, left) + aesthetic score.
    static func aesthetic(original: PixelSize, crop: CropOffset, score: Double) -> [Float] {
        [Float(original.height), Float(original.width), Float(crop.top), Float(crop.left), Float(score)]
    }

    /// Rows for the UNet batch of the text-to-image pipeline. It concatenates [negative,
    /// positive] and then *repeats* the pair once per image, while the embeddings are
    /// [negatives..., positives...]; with several images and distinct negative sizes the rows
    /// therefore interleave. Reproduced as is.
    static func batchRows(positive: [Float], negative: [Float], images: Int, guidance: Bool) -> [[Float]] {
        let unit = guidance ? [negative, positive] : [positive]
        return Array((0..<images).map { _ in unit }.joined())
    }

    /// Rows for the img2img and inpaint pipelines, which repeat each row per image first:
    /// [negatives..., positives...].
    static func stackedRows(positive: [Float], negative: [Float], images: Int, guidance: Bool) -> [[Float]] {
        (guidance ? Array(repeating: negative, count: images) : []) + Array(repeating: positive, count: images)
    }

    /// The rows of one stage: the text-to-image pipeline's rules, or the img2img/inpaint
    /// pipelines' (aesthetic scores for refiner-style models; the negative rows take the
    /// positive crop, as diffusers does there).
    static func rows(for request: RenderRequest, size: PixelSize, textToImage: Bool, aesthetic: Bool, guidance: Bool) -> [[Float]] {
        let original = request.originalSize ?? size, target = request.targetSize ?? size
        if textToImage {
            let positive = base(original: original, crop: request.cropTopLeft, target: target)
            var negative = positive
            if let o = request.negativeOriginalSize, let t = request.negativeTargetSize {
                negative = base(original: o, crop: request.negativeCropTopLeft, target: t)
            }
            return batchRows(positive: positive, negative: negative, images: request.images, guidance: guidance)
        }
        let negativeOriginal = request.negativeOriginalSize ?? original
        let negativeTarget = request.negativeTargetSize ?? target
        let positive: [Float], negative: [Float]
        if aesthetic {
            positive = TimeIDs.aesthetic(original: original, crop: request.cropTopLeft, score: request.aestheticScore)
            negative = TimeIDs.aesthetic(original: negativeOriginal, crop: request.negativeCropTopLeft, score: request.negativeAestheticScore)
        } else {
            positive = base(original: original, crop: request.cropTopLeft, target: target)
            negative = base(original: negativeOriginal, crop: request.cropTopLeft, target: negativeTarget)
        }
        return stackedRows(positive: positive, negative: negative, images: request.images, guidance: guidance)
    }
}
