#if canImport(Glibc)
import Glibc
#endif

/// Keeps freed activation buffers in glibc's heap instead of returning each one to the kernel:
/// a UNet step allocates and frees the same large sizes over and over, and fresh pages cost a
/// page fault and zeroing each time. Buffers above 512 MiB are still mapped individually.
let configureAllocator: Void = {
    #if canImport(Glibc)
    // mallopt is not in Swift's Glibc module; M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3.
    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(-3, 512 << 20)
        _ = mallopt(-1, Int32.max)
    }
    #endif
}()

/// Returns the heap's free memory to the operating system. The allocator keeps freed buffers
/// for reuse (see `configureAllocator`); after dropping a whole model that would leave gigabytes
/// resident that the next model's differently sized buffers cannot all reuse.
public func returnFreedMemory() {
    #if canImport(Glibc)
    typealias Trim = @convention(c) (Int) -> Int32
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }
    #endif
}

/// Owned, 64-byte aligned float32 memory behind a `Tensor`.
///
/// `@unchecked Sendable` by design: tensors are values with copy-on-write storage. A write goes
/// through `withUnsafeMutableBufferPointer`, which copies unless the storage is uniquely
/// referenced, or through `unsafePointer` on a tensor just made (never on shared storage); so
/// storage two threads can reach is only read.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// `longLived`: weights, kept for the model's life, which ask for huge pages (see
    /// `adviseHugePages`); activations do not.
    public init(count: Int, longLived: Bool = false) {
        _ = configureAllocator
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        if longLived, count >= TensorStorage.hugePageThreshold { TensorStorage.adviseHugePages(raw, byteCount: count * 4) }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Floats from which a buffer asks for transparent huge pages (16 MiB).
    static let hugePageThreshold = 4 << 20

    /// Asks the kernel for 2 MiB pages over the whole 2 MiB pages inside the buffer, before it is
    /// first touched: loading SDXL's 14 GB of weights otherwise takes 3.5 million page faults,
    /// which in a VM cost more than the zeroing (a quarter of a whole 512 px render's CPU time).
    /// Only where transparent huge pages are set to `madvise` or `always`; harmless elsewhere.
    /// Weights only: asked for activations, the kernel's compaction for huge pages made the
    /// full-size VAE decode at 1024 px 10-20% slower (15.5-16.4 s against 17.7-19.1 s).
    static func adviseHugePages(_ p: UnsafeMutableRawPointer, byteCount: Int) {
        #if canImport(Glibc)
        let huge = 2 << 20
        let start = (Int(bitPattern: p) + huge - 1) & ~(huge - 1)
        let end = (Int(bitPattern: p) + byteCount) & ~(huge - 1)
        if end > start, let region = UnsafeMutableRawPointer(bitPattern: start) {
            _ = madvise(region, end - start, MADV_HUGEPAGE)
        }
        #endif
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// A dense, row-major float32 tensor with copy-on-write value semantics.
///
/// Plays the role of a contiguous float32 `torch.Tensor`. Activations of image models are kept
/// channels-last (`[batch, height, width, channels]`), unlike torch's NCHW.
public struct Tensor: Sendable {
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        let n = shape.reduce(1, *)
        storage = TensorStorage(count: n)
        storage.pointer.initialize(repeating: 0, count: n)
    }

    /// A tensor whose memory is left for the caller to fill completely. `longLived` marks
    /// weights (kept for a model's life: huge pages, see `TensorStorage`).
    public init(uninitialized shape: [Int], longLived: Bool = false) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *), longLived: longLived)
    }

    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) values")
        self.init(uninitialized: shape)
        scalars.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: $0.count) }
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        storage.pointer.initialize(repeating: value, count: count)
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// Read-only access to the elements.
    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Read-write access; copies the storage first if it is shared.
    @inlinable public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = TensorStorage(count: storage.count)
            copy.pointer.update(from: storage.pointer, count: storage.count)
            storage = copy
        }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The raw pointer for kernels that fill a freshly made tensor; never use on shared storage.
    @inlinable public var unsafePointer: UnsafeMutablePointer<Float> { storage.pointer }

    /// The same elements under another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var t = self
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        t.shape = newShape
        return t
    }

    public subscript(flat index: Int) -> Float {
        get { storage.pointer[index] }
        set { withUnsafeMutableBufferPointer { $0[index] = newValue } }
    }

    /// Batch item `i` of the leading axis, as a copy.
    public func slice(batch i: Int) -> Tensor {
        let inner = count / shape[0]
        let out = Tensor(uninitialized: [1] + shape.dropFirst())
        out.storage.pointer.update(from: storage.pointer + i * inner, count: inner)
        return out
    }

    /// Stacks tensors of equal shape along a new or the existing leading axis.
    public static func concatenateBatch(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty)
        let inner = Array(parts[0].shape.dropFirst())
        let total = parts.reduce(0) { $0 + $1.shape[0] }
        let out = Tensor(uninitialized: [total] + inner)
        var offset = 0
        for p in parts {
            precondition(Array(p.shape.dropFirst()) == inner, "batch parts disagree: \(p.shape) vs \(inner)")
            out.storage.pointer.advanced(by: offset).update(from: p.storage.pointer, count: p.count)
            offset += p.count
        }
        return out
    }

    /// Converts torch's NCHW layout to channels-last NHWC.
    public func nchwToNHWC() -> Tensor {
        precondition(rank == 4)
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let out = Tensor(uninitialized: [n, h, w, c])
        let src = storage.pointer, dst = out.storage.pointer
        for b in 0..<n { for ch in 0..<c { for p in 0..<(h * w) {
            dst[(b * h * w + p) * c + ch] = src[(b * c + ch) * h * w + p]
        } } }
        return out
    }

    /// Converts channels-last NHWC back to torch's NCHW layout.
    public func nhwcToNCHW() -> Tensor {
        precondition(rank == 4)
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let out = Tensor(uninitialized: [n, c, h, w])
        let src = storage.pointer, dst = out.storage.pointer
        for b in 0..<n { for p in 0..<(h * w) { for ch in 0..<c {
            dst[(b * c + ch) * h * w + p] = src[(b * h * w + p) * c + ch]
        } } }
        return out
    }
}

extension Tensor {
    /// Elementwise `self + other` (same shape).
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "shape mismatch \(lhs.shape) + \(rhs.shape)")
        let out = Tensor(uninitialized: lhs.shape)
        let a = lhs.storage.pointer, b = rhs.storage.pointer, o = out.storage.pointer
        parallelFor(lhs.count, grain: 1 << 15) { r in for i in r { o[i] = a[i] + b[i] } }
        return out
    }

    /// Adds `other` in place (same shape).
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "shape mismatch \(shape) += \(other.shape)")
        let b = other.storage.pointer
        withUnsafeMutableBufferPointer { buf in
            let a = buf.baseAddress!
            parallelFor(buf.count, grain: 1 << 15) { r in for i in r { a[i] += b[i] } }
        }
    }

    /// Multiplies every element by `s`.
    public func scaled(by s: Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let a = storage.pointer, o = out.storage.pointer
        parallelFor(count, grain: 1 << 15) { r in for i in r { o[i] = a[i] * s } }
        return out
    }

    /// Adds a vector to every row of the last axis (broadcast over leading axes).
    public mutating func addRowVector(_ v: Tensor) {
        let n = shape.last ?? 1
        precondition(v.count == n, "row vector of \(v.count) for last axis \(n)")
        let b = v.storage.pointer
        withUnsafeMutableBufferPointer { buf in
            let a = buf.baseAddress!
            parallelFor(buf.count / max(n, 1), grain: max(1, (1 << 14) / max(n, 1))) { r in
                for row in r { let p = a + row * n; for j in 0..<n { p[j] += b[j] } }
            }
        }
    }

    /// Largest absolute difference to `other`, divided by the largest magnitude in `other`.
    public func relativeError(to other: Tensor) -> Float {
        precondition(count == other.count, "size mismatch \(shape) vs \(other.shape)")
        var maxDiff: Float = 0, maxRef: Float = 0
        for i in 0..<count {
            maxDiff = max(maxDiff, abs(storage.pointer[i] - other.storage.pointer[i]))
            maxRef = max(maxRef, abs(other.storage.pointer[i]))
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef
    }
}
