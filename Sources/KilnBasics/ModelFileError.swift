import Foundation

/// Everything that can be wrong with a model file or folder. Each message names the file (and
/// tensor or key) and says what to do.
public enum ModelFileError: Error, CustomStringConvertible, LocalizedError, Equatable {
    case missingFile(path: String, hint: String)
    case unreadable(path: String, reason: String)
    case truncated(path: String, size: Int)
    case headerPastEnd(path: String, headerLength: UInt64, fileSize: Int)
    case headerTooLarge(path: String, headerLength: UInt64)
    case invalidHeader(path: String, reason: String)
    case invalidTensorEntry(path: String, tensor: String, reason: String)
    case offsetsOutOfRange(path: String, tensor: String, end: Int, dataSize: Int)
    case lengthMismatch(path: String, tensor: String, dtype: String, shape: [Int], byteLength: Int)
    case overlappingTensors(path: String, first: String, second: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case missingTensor(component: String, tensor: String, searched: String)
    case shapeMismatch(component: String, tensor: String, expected: [Int], actual: [Int], file: String)
    case invalidConfig(path: String, key: String, reason: String)
    case invalidIndex(path: String, reason: String)
    case missingComponent(folder: String, component: String)
    case unsupportedFormat(path: String, reason: String)
    /// `--variant none` on a component folder with only fp16 variant weights.
    case onlyFP16Weights(folder: String, file: String)
    /// `--variant fp16` on a pipeline folder where no component has fp16 variant files.
    case noFP16Variant(folder: String)

    public var description: String {
        switch self {
        case let .missingFile(path, hint):
            return "\(path): file not found; \(hint)"
        case let .unreadable(path, reason):
            return "\(path): cannot be read (\(reason)); check the path and its permissions"
        case let .truncated(path, size):
            return "\(path): truncated safetensors file (\(size) bytes, shorter than its 8-byte header length); re-download or re-export it"
        case let .headerPastEnd(path, length, size):
            return "\(path): safetensors header length \(length) runs past the end of the \(size)-byte file; the file is truncated or not safetensors"
        case let .headerTooLarge(path, length):
            return "\(path): safetensors header length \(length) exceeds the 100 MB limit; the file is corrupt or not safetensors"
        case let .invalidHeader(path, reason):
            return "\(path): invalid safetensors header JSON (\(reason)); the file is corrupt or not safetensors"
        case let .invalidTensorEntry(path, tensor, reason):
            return "\(path): tensor '\(tensor)' has an invalid header entry (\(reason)); the file is corrupt"
        case let .offsetsOutOfRange(path, tensor, end, dataSize):
            return "\(path): tensor '\(tensor)' ends at byte \(end) of a \(dataSize)-byte data section; the file is truncated or corrupt"
        case let .lengthMismatch(path, tensor, dtype, shape, length):
            return "\(path): tensor '\(tensor)' is \(length) bytes but \(dtype) \(shape) needs a different length; the file is corrupt"
        case let .overlappingTensors(path, first, second):
            return "\(path): tensors '\(first)' and '\(second)' overlap in the data section; the file is corrupt"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)' has dtype \(dtype); only F32, F16, BF16 (and U8 pixel) tensors can be loaded"
        case let .missingTensor(component, tensor, searched):
            return "\(component): tensor '\(tensor)' is missing from \(searched); the weights do not match the config"
        case let .shapeMismatch(component, tensor, expected, actual, file):
            return "\(component): tensor '\(tensor)' in \(file) has shape \(actual) but the config implies \(expected); weights and config.json disagree"
        case let .invalidConfig(path, key, reason):
            return "\(path): '\(key)' \(reason)"
        case let .invalidIndex(path, reason):
            return "\(path): invalid shard index (\(reason)); re-download the component"
        case let .missingComponent(folder, component):
            return "\(folder): component folder '\(component)' is missing; the model folder is incomplete"
        case let .unsupportedFormat(path, reason):
            return "\(path): \(reason)"
        case let .onlyFP16Weights(folder, file):
            return "\(folder): holds only fp16 variant weights (\((file as NSString).lastPathComponent)), which diffusers' variant=None does not load; pass --variant fp16 (or leave --variant unset, which takes them)"
        case let .noFP16Variant(folder):
            return "\(folder): no component has fp16 variant weights (*.fp16.safetensors), so diffusers' variant=\"fp16\" refuses the model; pass --variant none or leave --variant unset"
        }
    }

    public var errorDescription: String? { description }
}
