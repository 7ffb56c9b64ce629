import Foundation
import ModelFiles
import Numerics

/// A textual-inversion embedding file (safetensors): SDXL's two tables `clip_l` `[n, 768]` and
/// `clip_g` `[n, 1280]`, or one table for one encoder (`emb_params`, A1111's
/// `string_to_param.*`, or a file with a single tensor), chosen by its width as diffusers'
/// `load_textual_inversion` is pointed at an encoder.
public struct EmbeddingFile: Sendable {
    public let path: String
    /// Table by the encoder it is for: "clip_l", "clip_g", or "any" (decide by width).
    public let tables: [String: Tensor]

    public init(path: String) throws {
        self.path = path
        let file = try SafetensorsFile(path: path)
        var tables: [String: Tensor] = [:]
        for key in ["clip_l", "clip_g"] where file.info(key) != nil { tables[key] = try file.load(key) }
        if tables.isEmpty {
            let names = file.tensorNames
            let single = names.first { $0 == "emb_params" || $0.hasPrefix("string_to_param") } ?? (names.count == 1 ? names.first : nil)
            guard let single else {
                throw AdapterError.notLoRA(path: path, reason: "not a textual-inversion embedding: no clip_l/clip_g, emb_params or string_to_param tensor")
            }
            tables["any"] = try file.load(single)
        }
        for (key, t) in tables {
            var table = t
            if table.rank == 1 { table = table.reshaped([1, table.count]) }
            guard table.rank == 2, table.shape[0] >= 1, table.shape[0] <= 75, table.shape[1] >= 1 else {
                throw AdapterError.shapeMismatch(path: path, key: key, reason: "shape \(t.shape) is not [vectors (1...75), width]")
            }
            guard table.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) else {
                throw AdapterError.shapeMismatch(path: path, key: key, reason: "holds NaN or infinite values")
            }
            tables[key] = table
        }
        self.tables = tables
    }

    /// The table for an encoder of `width` whose SDXL name is `name` ("clip_l" or "clip_g").
    public func table(for name: String, width: Int) -> Tensor? {
        if let t = tables[name] { return t.shape[1] == width ? t : nil }
        if let t = tables["any"], t.shape[1] == width { return t }
        return nil
    }

    /// The token and its extra vectors' tokens, as diffusers names them: `tok`, `tok_1`, ...
    public static func tokens(_ token: String, count: Int) -> [String] {
        [token] + (1..<max(count, 1)).map { "\(token)_\($0)" }
    }
}
