import Foundation

/// The files a request names that are stored with a job by the SHA-256 of their bytes (an image,
/// a mask, latents), each under its parameter's name: the one list that `InputFiles` reads, the
/// queue checks at enqueue and the worker fetches. LoRAs and embeddings are hashed too but
/// stay files, read from their paths when the model loads.
public enum StoredInput: String, CaseIterable, Sendable {
    case image, mask, latents

    /// The parameter (`--image`, sweep key `image`, ...) that names the file.
    public var parameter: String { rawValue }

    /// Where a request keeps its reference to this input.
    public var reference: WritableKeyPath<RenderRequest, InputReference?> {
        switch self {
        case .image: return \.image
        case .mask: return \.mask
        case .latents: return \.latents
        }
    }
}

extension RenderRequest {
    /// The stored inputs this request names, in `StoredInput` order.
    public var storedInputs: [(input: StoredInput, reference: InputReference)] {
        StoredInput.allCases.compactMap { input in self[keyPath: input.reference].map { (input, $0) } }
    }
}
