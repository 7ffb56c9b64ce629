/// SDXL micro-conditioning rows as diffusers' `_get_add_time_ids` builds them.
enum TimeIDs {
    /// Base: original (h, w) + crop (top, left) + target (h, w).
    static func base(original: PixelSize, crop: CropOffset, target: PixelSize) -> [Float] {
        [original.height, original.width, crop.top, crop.left, target.height, target.width].map(Float.init)
    }

    /// Rows for the UNet batch. diffusers concatenates [negative, positive] and then *repeats* the
    /// pair once per image, while the embeddings are [negatives..., positives...]; with several
    /// images and distinct negative sizes the rows therefore interleave. Reproduced as is.
    static func batchRows(positive: [Float], negative: [Float], images: Int, guidance: Bool) -> [[Float]] {
        let unit = guidance ? [negative, positive] : [positive]
        return Array((0..<images).map { _ in unit }.joined())
    }
}
