import Foundation
import Numerics

/// Serialises tensors in the safetensors format (header sorted by name, data 8-byte aligned),
/// as float32 or float16.
public enum SafetensorsWriter {
    public static func data(_ tensors: [(name: String, tensor: Tensor)], dtype: SafetensorsDType = .f32,
                            metadata: [String: String] = [:]) throws -> Data {
        precondition(dtype == .f32 || dtype == .f16, "only F32 and F16 are written")
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var payload = Data()
        for (name, t) in tensors.sorted(by: { $0.name < $1.name }) {
            let begin = payload.count
            t.withUnsafeBufferPointer { buf in
                if dtype == .f32 {
                    for v in buf { withUnsafeBytes(of: v.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
                } else {
                    for v in buf { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
                }
            }
            header[name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [begin, payload.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(payload)
        return out
    }
}
