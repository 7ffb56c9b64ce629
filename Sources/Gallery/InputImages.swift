import Foundation
import Imaging
import RenderRecord

/// A job's input pictures as the gallery shows them: its image-to-image input, inpainting mask
/// and control images, served from /inputs/SHA256 (the bytes the user gave, as stored with the
/// job) and listed on the image page.
enum InputImages {
    /// Whether `text` is a SHA-256 as the queue stores it: 64 lowercase hex digits.
    static func isHash(_ text: Substring) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The Content-Type of a PNG or JPEG, from its first bytes as `ImageFile` tells them; nil for anything else.
    static func contentType(of data: Data) -> String? {
        switch ImageFile.format(of: data) {
        case .png: "image/png"
        case .jpeg: "image/jpeg"
        case nil: nil
        }
    }

    /// The "Inputs" section: a thumbnail per input, linked to the full picture, captioned with its
    /// file name (and, for a control image, its ControlNet's scale and window). Empty without inputs.
    static func section(_ request: RenderRequest) -> HTML {
        var figures: [HTML] = []
        func figure(_ kind: String, _ label: String, _ ref: InputReference, _ detail: String = "") {
            let caption = "\(label): \(ref.file ?? ref.sha256)\(detail)"
            figures.append("""
                <figure data-input="\(kind)"><a href="/inputs/\(ref.sha256)"><img src="/inputs/\(ref.sha256)" alt="\(caption)" \
                width="180" height="180"></a><figcaption title="\(caption)">\(caption)</figcaption></figure>
                """)
        }
        if let image = request.image { figure("image", "image", image) }
        if let mask = request.mask { figure("mask", "mask", mask) }
        let controls = request.controlnet, imageToImage = request.image != nil && request.mask == nil
        for (i, ref) in controls.images.enumerated() {
            let scale = controls.scale(i, imageToImage: imageToImage)
            figure("control-\(i)", "ControlNet \(i)", ref, " · scale \(scale) · window \(controls.start(i))–\(controls.end(i))")
        }
        guard !figures.isEmpty else { return "" }
        return "<h2>Inputs</h2><div class=\"thumbs\" id=\"inputs\">\(figures)</div>"
    }
}
