import Foundation

/// A request that has passed `RenderRequest.validate()`, checked once where it enters Kiln (the
/// command line, a job row read back from the queue) and carried as this value from there on:
/// the render (`RenderSession`) and the queue's `enqueue(validated:)` take it and check nothing
/// again. diffusers checks a pipeline call's arguments once, in `check_inputs`, the same way.
public struct ValidatedRequest: Sendable, Equatable {
    public let request: RenderRequest

    /// `request`, validated; its first bad parameter is the error.
    public init(_ request: RenderRequest) throws {
        try request.validate()
        self.request = request
    }

    private init(checked request: RenderRequest) { self.request = request }

    /// This request with the input-file hashes of `hashed` (the same request after `InputFiles`
    /// read and hashed its files), still valid without a second `validate()`: validation reads
    /// no hash, and a difference in anything but the hashes is refused.
    public func recordingHashes(of hashed: RenderRequest) throws -> ValidatedRequest {
        guard hashed.clearingHashes() == request.clearingHashes() else {
            throw RenderError.invalid(parameter: "request", reason: "changed after validation in more than its input files' hashes; validate it again")
        }
        return ValidatedRequest(checked: hashed)
    }
}

extension RenderRequest {
    /// This request with every input file's hash (and a LoRA's short hash) emptied: what
    /// `ValidatedRequest.recordingHashes(of:)` compares.
    func clearingHashes() -> RenderRequest {
        var r = self
        for input in StoredInput.allCases { r[keyPath: input.reference]?.sha256 = "" }
        for i in r.controlnet.images.indices { r.controlnet.images[i].sha256 = "" }
        for i in r.embeddings.indices { r.embeddings[i].sha256 = "" }
        for i in r.loras.indices { r.loras[i].sha256 = ""; r.loras[i].shortHash = nil }
        r.vae?.sha256 = ""
        r.unet?.sha256 = ""
        return r
    }
}
