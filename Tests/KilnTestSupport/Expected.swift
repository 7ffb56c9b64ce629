import Foundation
import ModelFiles
import Numerics

/// Reference tensors saved by the fixture script (NCHW as torch writes them).
public struct Expected {
    public let file: SafetensorsFile

    public init(_ name: String) throws {
        file = try SafetensorsFile(path: Fixtures.expected(name + ".safetensors"))
    }

    public func tensor(_ key: String) throws -> Tensor { try file.load(key) }

    /// An image-like tensor converted from torch's NCHW to channels-last.
    public func image(_ key: String) throws -> Tensor { try file.load(key).nchwToNHWC() }
}
