import Foundation
import Synchronization

/// A UNet that replaces a pipeline's own (`--unet`, diffusers' `pipe.unet = other`): a diffusers
/// UNet folder (`config.json` and `diffusion_pytorch_model[.fp16].safetensors`, single or sharded;
/// a pipeline folder stands for its `unet/`), or one safetensors file in diffusers' key layout
/// (`sdxl_lightning_4step_unet.safetensors`) or the original SGM layout (`model.diffusion_model.*`).
/// A single file is read with the pipeline UNet's config; a folder brings its own. Pickled files
/// (`.bin`, `.ckpt`, `.pt`: DMD2 ships one) are refused with the command that converts them.
public struct UNetFile: Sendable {
    public enum Layout: String, Sendable { case folder, diffusers, sgm }

    public let path: String
    public let layout: Layout
    /// The folder's `config.json`; nil for a single file (or a folder without one), which takes the pipeline's.
    public let config: ConfigFile?
    /// The files whose bytes make the UNet (config.json first for a folder, then its weights).
    public let files: [String]
    let source: any WeightSource

    public init(path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelFileError.missingFile(path: path, hint: "give a diffusers UNet folder or a UNet .safetensors file")
        }
        if isDir.boolValue {
            var folder = path
            if FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("model_index.json")) {
                folder = (path as NSString).appendingPathComponent("unet")
            }
            // Without a config.json of its own, the folder's weights take the pipeline UNet's config.
            let configPath = (folder as NSString).appendingPathComponent("config.json")
            var config: ConfigFile?
            if FileManager.default.fileExists(atPath: configPath) {
                let own = try ConfigFile(path: configPath)
                let cls = try own.string("_class_name", default: "UNet2DConditionModel")
                guard cls == "UNet2DConditionModel" else {
                    throw ModelFileError.invalidConfig(path: configPath, key: "_class_name", reason: "is \(cls); --unet takes a UNet2DConditionModel")
                }
                config = own
            }
            let source = try DiffusersFolder.openWeights(folder: folder, stem: "diffusion_pytorch_model", variant: .automatic)
            self.init(path: path, layout: .folder, config: config, files: (config == nil ? [] : [configPath]) + UNetFile.weightFiles(source),
                      source: source)
            return
        }
        try UNetFile.refusePickle(path)
        let file = try SafetensorsFile(path: path)
        let names = file.tensors.keys
        let layout: Layout
        if names.contains(where: { $0.hasPrefix(SingleFileCheckpoint.unetPrefix) }) {
            layout = .sgm
        } else if file.info("conv_in.weight") != nil {
            layout = .diffusers
        } else {
            throw ModelFileError.unsupportedFormat(path: path,
                reason: "holds no UNet tensors (neither diffusers' 'conv_in.weight' nor SGM's 'model.diffusion_model.*'); give a UNet file or folder")
        }
        self.init(path: path, layout: layout, config: nil, files: [path], source: file)
    }

    init(path: String, layout: Layout, config: ConfigFile?, files: [String], source: any WeightSource) {
        self.path = path; self.layout = layout; self.config = config; self.files = files; self.source = source
    }

    /// The tensors under diffusers' names (SGM block names need the config's `layers_per_block`).
    public func weights(layersPerBlock: Int) -> any WeightSource {
        guard layout == .sgm, let file = source as? SafetensorsFile else { return source }
        return MappedWeights(base: file, entries: SingleFileCheckpoint.unetEntries(in: file, layersPerBlock: layersPerBlock))
    }

    /// Whether the weights hold a tensor named `name` (diffusers naming).
    public func hasTensor(_ name: String, layersPerBlock: Int) -> Bool { weights(layersPerBlock: layersPerBlock).info(name) != nil }

    /// One hash of the UNet's bytes: the file's SHA-256, or for a folder the SHA-256 of the lines
    /// `SHA-256  file name` of its config.json (when it has one) and weight files, in that order
    /// (`sha256sum`'s format).
    public func sha256() throws -> String {
        if layout != .folder { return try SHA256.hex(file: path) }
        let lines = try files.map { "\(try SHA256.hex(file: $0))  \(($0 as NSString).lastPathComponent)\n" }
        return SHA256.hex(Data(lines.joined().utf8))
    }

    static func weightFiles(_ source: any WeightSource) -> [String] {
        if let file = source as? SafetensorsFile { return [file.path] }
        return Array(Set(source.tensorNames.map { source.location(of: $0) })).sorted()
    }

    /// Refuses a pickled PyTorch file (told from its first bytes or its extension) with the one
    /// line that converts it to safetensors.
    public static func refusePickle(_ path: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        guard let kind = SingleFileCheckpoint.pickledContainer(path) ?? (["ckpt", "pt", "pth", "bin"].contains(ext) ? "a .\(ext) file" : nil) else { return }
        let output = ((path as NSString).deletingPathExtension as String) + ".safetensors"
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'" }
        let command = "python3 -c \"import torch; from safetensors.torch import save_file; sd = torch.load(\(quoted(path)), map_location='cpu', weights_only=True); sd = sd.get('state_dict', sd); save_file({k: v.contiguous().clone() for k, v in sd.items()}, \(quoted(output)))\""
        throw ModelFileError.unsupportedFormat(path: path,
            reason: "is a pickled PyTorch file (\(kind)), which Kiln does not read (pickles can run code); convert it to safetensors with: \(command)")
    }
}

extension SHA256 {
    /// The SHA-256 of a whole regular file, mapped rather than read (a UNet is gigabytes; about
    /// 100 MB/s). Remembered for the process by path and the file's identity (device, inode, size,
    /// modification and change times), so the hash a job was resolved with is not recomputed when
    /// the same process loads the model (`kiln render`); a file changed since is hashed again.
    public static func hex(file path: String) throws -> String {
        try RegularFile.check(path)
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ModelFileError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelFileError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        let identity = [Int(st.st_dev), Int(st.st_ino), Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec),
                        Int(st.st_ctim.tv_sec), Int(st.st_ctim.tv_nsec)]
        if let known = FileHashes.shared.hash(path, identity) { return known }
        let size = Int(st.st_size)
        guard size > 0 else { return hex(Data()) }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw ModelFileError.unreadable(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        let data = Data(bytesNoCopy: map, count: size, deallocator: .custom { pointer, count in munmap(pointer, count) })
        let hash = hex(data)
        FileHashes.shared.remember(path, identity, hash)
        return hash
    }
}

/// File hashes computed in this process, by path and file identity.
final class FileHashes: Sendable {
    static let shared = FileHashes()
    private let known = Mutex<[String: (identity: [Int], hash: String)]>([:])

    func hash(_ path: String, _ identity: [Int]) -> String? {
        known.withLock { known in
            guard let entry = known[path], entry.identity == identity else { return nil }
            return entry.hash
        }
    }

    func remember(_ path: String, _ identity: [Int], _ hash: String) {
        known.withLock { $0[path] = (identity, hash) }
    }
}
