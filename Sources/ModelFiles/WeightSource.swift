import Foundation
import Numerics

/// A named collection of tensors a model's weights are read from: one safetensors file, a
/// sharded set, or a renamed view of a single-file checkpoint.
public protocol WeightSource: AnyObject, Sendable {
    var tensorNames: [String] { get }
    func info(_ name: String) -> TensorInfo?
    /// Where `name` lives, for messages.
    func location(of name: String) -> String
    func load(_ name: String) throws -> Tensor
    /// The values `load(name)` gives, written to `destination` (room for `info(name).elementCount`
    /// floats): weights that are repacked at once (bf16) go through a reused buffer instead of a
    /// fresh tensor each.
    func load(_ name: String, into destination: UnsafeMutablePointer<Float>) throws
}

extension WeightSource {
    public func load(_ name: String, into destination: UnsafeMutablePointer<Float>) throws {
        let t = try load(name)
        destination.update(from: t.unsafePointer, count: t.count)
    }

    /// Number of parameters: elements of the floating-point tensors (integer buffers such as
    /// CLIP's saved `position_ids` are not parameters in torch either).
    public var parameterCount: Int {
        tensorNames.reduce(0) { total, name in
            guard let i = info(name), [.f32, .f16, .bf16, .f64].contains(i.dtype) else { return total }
            return total + i.elementCount
        }
    }

    /// The on-disk dtype shared by most parameters (by element count).
    public var dominantDType: SafetensorsDType? {
        var counts: [SafetensorsDType: Int] = [:]
        for name in tensorNames { if let i = info(name) { counts[i.dtype, default: 0] += i.elementCount } }
        return counts.max { ($0.value, $0.key.rawValue) < ($1.value, $1.key.rawValue) }?.key
    }
}

/// Several safetensors files joined by a `*.safetensors.index.json` weight map (the layout
/// `save_pretrained(max_shard_size=...)` writes in diffusers and transformers).
public final class ShardedWeights: WeightSource, Sendable {
    public let indexPath: String
    private let owner: [String: SafetensorsFile]

    public init(indexPath: String) throws {
        self.indexPath = indexPath
        guard FileManager.default.fileExists(atPath: indexPath) else {
            throw ModelFileError.missingFile(path: indexPath, hint: "the shard index is missing")
        }
        let data = try RegularFile.read(indexPath)
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelFileError.invalidIndex(path: indexPath, reason: "not a JSON object")
        }
        guard let map = json["weight_map"] as? [String: String] else {
            throw ModelFileError.invalidIndex(path: indexPath, reason: "no weight_map of tensor name to file name")
        }
        let folder = (indexPath as NSString).deletingLastPathComponent
        var files: [String: SafetensorsFile] = [:]
        var owner: [String: SafetensorsFile] = [:]
        for (tensor, fileName) in map {
            guard !fileName.contains("/") else {
                throw ModelFileError.invalidIndex(path: indexPath, reason: "shard name '\(fileName)' leaves the folder")
            }
            let file: SafetensorsFile
            if let f = files[fileName] { file = f } else {
                file = try SafetensorsFile(path: (folder as NSString).appendingPathComponent(fileName))
                files[fileName] = file
            }
            guard file.info(tensor) != nil else {
                throw ModelFileError.missingTensor(component: indexPath, tensor: tensor, searched: file.path)
            }
            owner[tensor] = file
        }
        self.owner = owner
    }

    public var tensorNames: [String] { owner.keys.sorted() }
    public func info(_ name: String) -> TensorInfo? { owner[name]?.info(name) }
    public func location(of name: String) -> String { owner[name]?.path ?? indexPath }
    public func load(_ name: String) throws -> Tensor {
        guard let f = owner[name] else {
            throw ModelFileError.missingTensor(component: indexPath, tensor: name, searched: indexPath)
        }
        return try f.load(name)
    }

    public func load(_ name: String, into destination: UnsafeMutablePointer<Float>) throws {
        guard let f = owner[name] else {
            throw ModelFileError.missingTensor(component: indexPath, tensor: name, searched: indexPath)
        }
        try f.load(name, into: destination)
    }
}
