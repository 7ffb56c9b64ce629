import Foundation
import ModelFiles

extension RenderRequest {
    /// Refuses a `--variant` the model or refiner folder cannot be loaded with as diffusers'
    /// `from_pretrained(variant=)` would refuse it (fp16 where no component has fp16 files, none
    /// where a component has only fp16 files), or one given for single files only, which it does
    /// not apply to: from the folder listings alone, before anything is enqueued or loaded.
    public func checkVariant(model: ModelReference) throws {
        try RenderRequest.checkVariants([self], model: model)
    }

    /// `checkVariant(model:)` for a sweep's requests, each folder and variant checked once.
    public static func checkVariants(_ requests: [RenderRequest], model: ModelReference) throws {
        var checked: Set<String> = []
        for request in requests {
            guard let variant = request.variant else { continue }
            var singleFiles: [String] = [], folders = 0
            for plan in StagePlan.stages(for: request, model: model) {
                let path = plan.model.path
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }  // left to the loader
                guard isDir.boolValue else { singleFiles.append(path); continue }
                folders += 1
                guard checked.insert(path + "\u{0}" + variant.rawValue).inserted else { continue }
                // A folder that is no pipeline, or lacks a component, is left to the loader's message.
                guard let folder = try? DiffusersFolder(path: path) else { continue }
                do {
                    for name in ["text_encoder", "text_encoder_2", "unet", "vae"] where (try? folder.componentPath(name)) != nil {
                        try checkPresent(try folder.weightFiles(name, variant: variant), component: name, folder: path)
                    }
                } catch let error as ModelFileError {
                    throw RenderError.invalid(parameter: "variant", reason: "\(variant.rawValue): \(error)")
                } catch let error as HubCacheError {
                    throw RenderError.invalid(parameter: "variant", reason: "\(variant.rawValue): \(error)")
                }
            }
            if folders == 0, let file = singleFiles.first {
                throw RenderError.invalid(parameter: "variant", reason: "picks the weight files of a diffusers folder, but \(file) is a single file, read as it is; drop --variant")
            }
        }
    }

    /// Every file the variant picked must be there (a shard index lists its shards): in a Hub
    /// snapshot, the missing ones are named with the `hf download` command that fetches them.
    static func checkPresent(_ chosen: ComponentWeightFiles, component: String, folder: String) throws {
        let missing = try chosen.files().filter { !FileManager.default.fileExists(atPath: $0) }
        guard let first = missing.first else { return }
        if let snapshot = HubSnapshot(path: folder), let id = HubModelID("\(snapshot.repo)@\(snapshot.commit)") {
            throw HubCacheError.missingFiles(id: id, files: missing.map { component + "/" + ($0 as NSString).lastPathComponent }, folder: folder)
        }
        throw ModelFileError.missingFile(path: first, hint: "\((chosen.path as NSString).lastPathComponent) lists it; the component's weights are incomplete")
    }
}

extension StagePlan {
    /// With `--variant fp16`, a line per model naming the components that have no fp16 files and
    /// load their plain weights: diffusers does the same and warns "A mixture of fp16 and non-fp16
    /// filenames will be loaded" (when it lists the repo's files). A swapped-in UNet or VAE is not named.
    static func variantNotices(_ stages: [StagePlan]) -> [String] {
        var seen: Set<String> = [], notices: [String] = []
        for plan in stages where plan.model.variant == .fp16 && seen.insert(plan.model.path).inserted {
            guard let folder = try? DiffusersFolder(path: plan.model.path) else { continue }
            let replaced = (plan.model.unet == nil ? [] : ["unet"]) + (plan.model.vae == nil ? [] : ["vae"])
            let plain = ["text_encoder", "text_encoder_2", "unet", "vae"].filter { name in
                !replaced.contains(name) && (try? folder.componentPath(name)) != nil
                    && (try? folder.weightFiles(name, variant: .fp16))?.isFP16 == false
            }
            guard !plain.isEmpty else { continue }
            let one = plain.count == 1
            notices.append("--variant fp16: \(plan.model.path): \(plain.joined(separator: ", ")) \(one ? "has" : "have") no fp16 files and \(one ? "loads its" : "load their") plain weights, as in diffusers (\"A mixture of fp16 and non-fp16 filenames will be loaded\")")
        }
        return notices
    }
}
