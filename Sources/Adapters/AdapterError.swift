import Foundation

/// Everything that can be wrong with a LoRA or embedding file, each a line naming the file.
public enum AdapterError: Error, CustomStringConvertible, Equatable {
    case notLoRA(path: String, reason: String)
    case unknownModule(path: String, key: String, component: String)
    case shapeMismatch(path: String, key: String, reason: String)
    case otherModel(path: String, reason: String)
    case changed(path: String, expected: String, found: String)
    case badScale(path: String, scale: Double)
    /// A key in no layout diffusers reads, or one it would drop from this file.
    case unreadKey(path: String, key: String, reason: String)

    public var description: String {
        switch self {
        case let .notLoRA(path, reason): return "\(path): not a LoRA file (\(reason))"
        case let .unknownModule(path, key, component):
            return "\(path): LoRA key '\(key)' names no module of the model's \(component); the LoRA was made for another model"
        case let .shapeMismatch(path, key, reason): return "\(path): LoRA key '\(key)': \(reason)"
        case let .otherModel(path, reason): return "\(path): \(reason); use a LoRA made for SDXL"
        case let .changed(path, expected, found):
            return "\(path) changed since the job was queued (SHA-256 \(found.prefix(12)), expected \(expected.prefix(12))); queue the job again"
        case let .badScale(path, scale): return "\(path): LoRA scale \(scale) must be a finite number between -10 and 10"
        case let .unreadKey(path, key, reason): return "\(path): LoRA key '\(key)' \(reason); the file was not applied"
        }
    }
}
