import Foundation

/// The local Hugging Face Hub cache, read as huggingface_hub writes it (Kiln downloads nothing):
/// `ROOT/models--org--name/refs/REVISION` holds a commit hash (no trailing newline),
/// `snapshots/COMMIT/...` holds the repo's files as symlinks into `blobs/`.
public struct HubCache: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    /// The cache huggingface_hub uses: `HF_HUB_CACHE`, else the legacy `HUGGINGFACE_HUB_CACHE`,
    /// else `HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`
    /// (`~` expanded as huggingface_hub does).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        func given(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let home = given("HOME") ?? NSHomeDirectory()
        func expand(_ p: String) -> String {
            p == "~" ? home : p.hasPrefix("~/") ? (home as NSString).appendingPathComponent(String(p.dropFirst(2))) : p
        }
        if let hub = given("HF_HUB_CACHE") ?? given("HUGGINGFACE_HUB_CACHE") { root = expand(hub); return }
        let hfHome = given("HF_HOME") ?? ((given("XDG_CACHE_HOME") ?? (home as NSString).appendingPathComponent(".cache")) as NSString)
            .appendingPathComponent("huggingface")
        root = (expand(hfHome) as NSString).appendingPathComponent("hub")
    }

    /// The snapshot `id` names, checked to hold every file Kiln reads from a diffusers pipeline.
    public func snapshot(_ id: HubModelID) throws -> HubSnapshot {
        let snapshot = try resolve(id)
        let missing = try HubCache.missingPipelineFiles(in: snapshot.path)
        guard missing.isEmpty else { throw HubCacheError.missingFiles(id: id, files: missing, folder: snapshot.path) }
        return snapshot
    }

    /// The absolute path of `file` (a path inside the repo, such as a LoRA's
    /// `pytorch_lora_weights.safetensors`) in the snapshot `id` names, checked to exist.
    public func file(_ file: String, of id: HubModelID) throws -> String {
        let snapshot = try resolve(id)
        let path = (snapshot.path as NSString).appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: path) else {
            throw HubCacheError.missingFiles(id: id, files: [file], folder: snapshot.path)
        }
        return path
    }

    /// The snapshot folder `id` names, whatever it holds (a repo of one component has no pipeline files).
    public func repoSnapshot(_ id: HubModelID) throws -> HubSnapshot { try resolve(id) }

    /// The snapshot folder `id` names, through `refs/REVISION` (default `main`) or a 40-hex commit.
    func resolve(_ id: HubModelID) throws -> HubSnapshot {
        let fm = FileManager.default
        let repoFolder = (root as NSString).appendingPathComponent(id.folderName)
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: repoFolder, isDirectory: &isDir), isDir.boolValue else {
            throw HubCacheError.notCached(id: id, cache: root)
        }
        let revision = id.revision ?? "main"
        let commit: String
        let refPath = (repoFolder as NSString).appendingPathComponent("refs/" + revision)
        if fm.fileExists(atPath: refPath, isDirectory: &isDir), !isDir.boolValue {
            let text = String(decoding: try RegularFile.read(refPath, limit: 4096), as: UTF8.self)
            commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard HubModelID.isCommit(commit) else { throw HubCacheError.badRef(path: refPath, id: id) }
        } else if HubModelID.isCommit(revision) {
            commit = revision
        } else {
            throw HubCacheError.unknownRevision(id: id, revision: revision, folder: repoFolder)
        }
        let path = (repoFolder as NSString).appendingPathComponent("snapshots/" + commit)
        guard fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw HubCacheError.missingFiles(id: id, files: ["snapshot \(commit)"], folder: path)
        }
        return HubSnapshot(repo: id.repo, commit: commit, path: path)
    }

    /// The components Kiln reads from a pipeline folder, when `model_index.json` lists them.
    static let components = ["unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"]

    /// Files of a diffusers pipeline snapshot that Kiln would read and the snapshot lacks
    /// (relative paths). Weights are looked for as `DiffusersFolder` picks them: safetensors,
    /// plain or the fp16 variant, single or sharded (every shard of the index).
    static func missingPipelineFiles(in folder: String) throws -> [String] {
        let fm = FileManager.default
        func exists(_ relative: String) -> Bool { fm.fileExists(atPath: (folder as NSString).appendingPathComponent(relative)) }
        guard exists("model_index.json") else { return ["model_index.json"] }
        let index = try DiffusersFolder(path: folder)
        var missing: [String] = []
        for name in components {
            guard let entry = index.components[name] else { continue }
            switch name {
            case "scheduler":
                if !exists("scheduler/scheduler_config.json") { missing.append("scheduler/scheduler_config.json") }
            case "tokenizer", "tokenizer_2":
                func any(_ file: String) -> Bool { exists("\(name)/\(file)") || exists("\(name)/\(file).gz") }
                if !any("tokenizer.json") {
                    missing += ["vocab.json", "merges.txt"].filter { !any($0) }.map { "\(name)/\($0)" }
                }
            default:
                if !exists("\(name)/config.json") { missing.append("\(name)/config.json") }
                let stem = entry.library == "transformers" ? "model" : "diffusion_pytorch_model"
                missing += try missingWeights(folder: folder, component: name, stem: stem)
            }
        }
        return missing
    }

    /// The weight files a component lacks: none when plain or fp16 safetensors (single, or an
    /// index with all its shards) are there.
    static func missingWeights(folder: String, component: String, stem: String) throws -> [String] {
        let fm = FileManager.default
        let dir = (folder as NSString).appendingPathComponent(component)
        // Looked for in the order ComponentWeightFiles.choose takes them (a diffusers model's index first).
        for (single, index) in [("\(stem).safetensors", "\(stem).safetensors.index.json"),
                                ("\(stem).fp16.safetensors", "\(stem).safetensors.index.fp16.json")] {
            let indexPath = (dir as NSString).appendingPathComponent(index)
            let singleThere = fm.fileExists(atPath: (dir as NSString).appendingPathComponent(single))
            if singleThere && (stem != "diffusion_pytorch_model" || !fm.fileExists(atPath: indexPath)) { return [] }
            if fm.fileExists(atPath: indexPath) {
                let shards = try ShardedWeights.shardNames(indexPath: indexPath)
                return shards.filter { !fm.fileExists(atPath: (dir as NSString).appendingPathComponent($0)) }.map { "\(component)/\($0)" }
            }
        }
        return ["\(component)/\(stem).safetensors"]
    }
}

/// A snapshot of a Hub repo in the cache: the repo id, the commit and its folder.
public struct HubSnapshot: Sendable, Equatable {
    public let repo: String
    public let commit: String
    public let path: String

    public init(repo: String, commit: String, path: String) {
        self.repo = repo; self.commit = commit; self.path = path
    }

    /// The repo and commit of a snapshot folder, `.../models--org--name/snapshots/COMMIT`, from
    /// its path alone (what a job stores), or nil for any other path.
    public init?(path: String) {
        let parts = (path as NSString).standardizingPath.split(separator: "/").map(String.init)
        guard parts.count >= 3, parts[parts.count - 2] == "snapshots", HubModelID.isCommit(parts[parts.count - 1]) else { return nil }
        let folder = parts[parts.count - 3]
        guard folder.hasPrefix("models--") else { return nil }
        let names = folder.dropFirst("models--".count).components(separatedBy: "--")
        guard names.count == 2, let id = HubModelID(names.joined(separator: "/")) else { return nil }
        self.init(repo: id.repo, commit: parts[parts.count - 1], path: path)
    }
}

/// Why a Hub id could not be resolved from the cache; each names what is missing and the
/// `hf download` command that fetches it.
public enum HubCacheError: Error, CustomStringConvertible, LocalizedError, Equatable {
    case notCached(id: HubModelID, cache: String)
    case unknownRevision(id: HubModelID, revision: String, folder: String)
    case badRef(path: String, id: HubModelID)
    case missingFiles(id: HubModelID, files: [String], folder: String)

    public var description: String {
        switch self {
        case let .notCached(id, cache):
            return "\(id): no such folder, and not in the Hugging Face cache \(cache) (Kiln downloads nothing); fetch it with `\(id.downloadCommand)`, or give a path that exists"
        case let .unknownRevision(id, revision, folder):
            return "\(id): revision '\(revision)' is not in the cache (\(folder)/refs has no '\(revision)'); fetch it with `\(id.downloadCommand)`"
        case let .badRef(path, id):
            return "\(path): does not hold a 40-hex commit hash; the cache is damaged, fetch the model again with `\(id.downloadCommand)`"
        case let .missingFiles(id, files, folder):
            let shown = files.prefix(4).joined(separator: ", ") + (files.count > 4 ? " and \(files.count - 4) more" : "")
            return "\(id): the cache lacks \(shown) (in \(folder)); fetch them with `\(id.downloadCommand)`"
        }
    }

    public var errorDescription: String? { description }
}

extension ShardedWeights {
    /// The shard file names a safetensors index lists (sorted, each once), without opening them.
    static func shardNames(indexPath: String) throws -> [String] {
        let data = try RegularFile.read(indexPath)
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = json["weight_map"] as? [String: String] else {
            throw ModelFileError.invalidIndex(path: indexPath, reason: "no weight_map of tensor name to file name")
        }
        return Set(map.values).filter { !$0.contains("/") }.sorted()
    }
}
