import Foundation
import ModelFiles
import Models

extension UNetReference {
    /// Opens the UNet, its layout told from what it holds (no hash check: configs only).
    func open() throws -> UNetFile {
        do { return try UNetFile(path: file) } catch let error as ModelFileError { throw RenderError.invalid(parameter: "unet", reason: "\(error)") }
    }

    /// Checks `unet`'s bytes against the recorded hash (a file changed since the job was added is refused).
    func verify(_ unet: UNetFile) throws {
        guard !sha256.isEmpty else { return }
        let found = try unet.sha256()
        guard found == sha256 else {
            throw RenderError.invalid(parameter: "unet", reason: "\(file) changed since the job was added (SHA-256 \(found.prefix(12)), recorded \(sha256.prefix(12))); add the job again")
        }
    }

    /// Refuses a swapped-in UNet whose config does not fit the pipeline's (its text encoders, added
    /// embeddings and VAE, for which the pipeline's own UNet was made), naming the first key that
    /// differs and both values: checked from configs before any weight loads.
    static func checkFits(_ swapped: UNetConfig, pipeline own: UNetConfig, unet: String, model: String) throws {
        let keys: [(String, Int, Int)] = [
            ("cross_attention_dim", swapped.crossAttentionDim, own.crossAttentionDim),
            ("addition_time_embed_dim", swapped.additionTimeEmbedDim, own.additionTimeEmbedDim),
            ("projection_class_embeddings_input_dim", swapped.projectionClassEmbeddingsInputDim, own.projectionClassEmbeddingsInputDim),
            ("in_channels", swapped.inChannels, own.inChannels),
            ("out_channels", swapped.outChannels, own.outChannels),
        ]
        for (key, theirs, ours) in keys where theirs != ours {
            throw RenderError.invalid(parameter: "unet", reason: "\(unet): its \(key) is \(theirs) but \(model)'s UNet has \(ours), so it does not fit that pipeline's text encoders and VAE; give a UNet made for this model")
        }
    }
}

extension ModelReference {
    /// The model's files, with the swapped-in UNet when there is one; its fit is checked from the
    /// configs, its bytes against its hash only when `verifyingUNet` (hashing a UNet reads gigabytes).
    func files(verifyingUNet: Bool = false) throws -> SDXLModelFiles {
        var files = try SDXLModelFiles(path: path, variant: variant ?? .automatic, configFolder: config)
        guard let unet else { return files }
        let own = try UNetConfig(try files.config("unet"))
        let swapped = try unet.open()
        files.unetOverride = swapped
        try UNetReference.checkFits(try UNetConfig(try files.config("unet")), pipeline: own, unet: unet.file, model: path)
        if verifyingUNet { try unet.verify(swapped) }
        return files
    }
}

extension RenderRequest {
    /// Refuses, from configs and file headers alone, a `--unet` that cannot replace `model`'s UNet
    /// (a UNet for other text encoders, added embeddings or channels), before anything is
    /// enqueued. A model whose own files cannot be read here is left to the worker.
    public func checkUNet(model: ModelReference) throws {
        guard let unet, (try? SDXLModelFiles(path: model.path, configFolder: model.config).config("unet")) != nil else { return }
        var reference = model
        reference.unet = unet
        _ = try reference.files()
    }
}
