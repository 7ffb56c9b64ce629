import Foundation
import Imaging

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

    /// The input decoded from its bytes into `inputs` (`name` for messages).
    func decode(_ data: Data, name: String, into inputs: inout RenderInputs) throws {
        switch self {
        case .image: inputs.image = try ImageFile.read(data: data, name: name)
        case .mask: inputs.mask = try ImageFile.read(data: data, name: name)
        case .latents: inputs.latents = try InputFiles.readLatents(data: data, name: name)
        }
    }
}

extension RenderRequest {
    /// The stored inputs this request names, in `StoredInput` order.
    public var storedInputs: [(input: StoredInput, reference: InputReference)] {
        StoredInput.allCases.compactMap { input in self[keyPath: input.reference].map { (input, $0) } }
    }
}

extension InputFiles {
    /// The decoded inputs from their bytes, each with a name for messages.
    public static func decode(_ files: [StoredInput: (data: Data, name: String)]) throws -> RenderInputs {
        var inputs = RenderInputs()
        for input in StoredInput.allCases {
            guard let file = files[input] else { continue }
            try input.decode(file.data, name: file.name, into: &inputs)
        }
        return inputs
    }
}
