import Foundation
import Numerics

/// How a tensor of a converted checkpoint is derived from the stored one.
public enum WeightTransform: Sendable, Equatable {
    case identity
    /// Rows `start..<start+count` of the first axis (OpenCLIP's fused q/k/v projections).
    case rows(start: Int, count: Int)
    /// The transpose of a matrix (OpenCLIP's `text_projection`).
    case transpose
}

/// A view of another weight source under new names, with per-tensor transforms: how a
/// single-file checkpoint is presented to the networks in diffusers' naming.
public final class MappedWeights: WeightSource, Sendable {
    public struct Entry: Sendable {
        public let key: String
        public let transform: WeightTransform
        public init(key: String, transform: WeightTransform) { self.key = key; self.transform = transform }
    }

    public let base: any WeightSource
    public let entries: [String: Entry]

    public init(base: any WeightSource, entries: [String: Entry]) {
        self.base = base
        self.entries = entries
    }

    public var tensorNames: [String] { entries.keys.sorted() }

    public func location(of name: String) -> String {
        guard let e = entries[name] else { return base.location(of: name) }
        return "\(base.location(of: e.key)) (as '\(e.key)')"
    }

    public func info(_ name: String) -> TensorInfo? {
        guard let e = entries[name], let i = base.info(e.key) else { return nil }
        switch e.transform {
        case .identity: return TensorInfo(name: name, dtype: i.dtype, shape: i.shape, begin: i.begin, end: i.end)
        case let .rows(_, count):
            return TensorInfo(name: name, dtype: i.dtype, shape: [count] + i.shape.dropFirst(), begin: 0, end: 0)
        case .transpose:
            return TensorInfo(name: name, dtype: i.dtype, shape: i.shape.reversed(), begin: 0, end: 0)
        }
    }

    public func load(_ name: String, into destination: UnsafeMutablePointer<Float>) throws {
        if let e = entries[name], case .identity = e.transform {
            try base.load(e.key, into: destination)
        } else {
            let t = try load(name)
            destination.update(from: t.unsafePointer, count: t.count)
        }
    }

    public func load(_ name: String) throws -> Tensor {
        guard let e = entries[name] else {
            throw ModelFileError.missingTensor(component: base.location(of: name), tensor: name, searched: base.location(of: name))
        }
        let t = try base.load(e.key)
        switch e.transform {
        case .identity:
            return t
        case let .rows(start, count):
            let inner = t.count / max(t.shape[0], 1)
            guard start + count <= t.shape[0] else {
                throw ModelFileError.shapeMismatch(component: base.location(of: e.key), tensor: e.key,
                                                   expected: [start + count] + t.shape.dropFirst(), actual: t.shape,
                                                   file: base.location(of: e.key))
            }
            let out = Tensor(uninitialized: [count] + t.shape.dropFirst())
            out.unsafePointer.update(from: t.unsafePointer + start * inner, count: count * inner)
            return out
        case .transpose:
            guard t.rank == 2 else {
                throw ModelFileError.shapeMismatch(component: base.location(of: e.key), tensor: e.key,
                                                   expected: [t.shape.first ?? 0, 0], actual: t.shape, file: base.location(of: e.key))
            }
            let (r, c) = (t.shape[0], t.shape[1])
            let out = Tensor(uninitialized: [c, r])
            let s = t.unsafePointer, d = out.unsafePointer
            for i in 0..<r { for j in 0..<c { d[j * r + i] = s[i * c + j] } }
            return out
        }
    }
}
