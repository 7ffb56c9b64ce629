import Foundation
import Imaging

extension StoredInput {
    /// The input decoded from its bytes into `inputs` (`name` for messages).
    func decode(_ data: Data, name: String, into inputs: inout RenderInputs) throws {
        switch self {
        case .image: inputs.image = try ImageFile.read(data: data, name: name)
        case .mask: inputs.mask = try ImageFile.read(data: data, name: name)
        case .latents: inputs.latents = try InputFiles.readLatents(data: data, name: name)
        }
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
