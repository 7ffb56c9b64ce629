import Foundation
import Numerics
#if canImport(Glibc)
import Glibc
#endif

/// Element types a safetensors file may declare, with their widths in bytes.
public enum SafetensorsDType: String, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2", u16 = "U16", u32 = "U32", u64 = "U64"

    public var byteWidth: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }

    /// The torch name, as `kiln inspect` prints it.
    public var torchName: String {
        switch self {
        case .f64: return "float64"
        case .f32: return "float32"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        default: return rawValue.lowercased()
        }
    }
}

/// One tensor's header entry.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range inside the data section.
    public let begin: Int
    public let end: Int
    public var elementCount: Int { shape.reduce(1, *) }

    public init(name: String, dtype: SafetensorsDType, shape: [Int], begin: Int, end: Int) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.begin = begin; self.end = end
    }
}

/// A memory-mapped `.safetensors` file (the huggingface/safetensors format): an 8-byte
/// little-endian header length, a JSON header, then the raw tensor bytes.
///
/// The header is validated as the reference library does: bounded length, valid JSON, known
/// dtypes, offsets inside the data section, byte lengths equal to dtype x shape, no overlaps.
///
/// `@unchecked Sendable`: every stored property is set in `init` and never changed; the bytes
/// are a read-only private mapping (or a copy nothing writes after `init`), so any thread may
/// read them, and `madvise(MADV_DONTNEED)` on clean pages only drops what can be read again.
public final class SafetensorsFile: WeightSource, @unchecked Sendable {
    public static let maxHeaderLength: UInt64 = 100_000_000

    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    private let base: UnsafeRawPointer
    private let mappedLength: Int
    private let dataOffset: Int
    /// Memory allocated by `init(data:)` rather than mapped from a file.
    private let owned: Bool

    public init(path: String) throws {
        self.path = path
        if FileManager.default.fileExists(atPath: path) { try RegularFile.check(path) }
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { throw ModelFileError.missingFile(path: path, hint: "check the model path") }
            throw ModelFileError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ModelFileError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        let size = Int(st.st_size)
        guard size >= 8 else { throw ModelFileError.truncated(path: path, size: size) }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw ModelFileError.unreadable(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(map)
        mappedLength = size
        owned = false
        do {
            (tensors, metadata, dataOffset) = try SafetensorsFile.parseHeader(base, size: size, path: path)
        } catch {
            munmap(map, size)
            throw error
        }
    }

    /// Safetensors bytes already in memory (a latents file kept in a database), copied; `name`
    /// stands for the path in messages.
    public init(data: Data, name: String) throws {
        path = name
        guard data.count >= 8 else { throw ModelFileError.truncated(path: name, size: data.count) }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: data.count, alignment: 64)
        data.withUnsafeBytes { if let source = $0.baseAddress { copy.copyMemory(from: source, byteCount: data.count) } }
        owned = true
        base = UnsafeRawPointer(copy)
        mappedLength = data.count
        do {
            (tensors, metadata, dataOffset) = try SafetensorsFile.parseHeader(base, size: data.count, path: name)
        } catch {
            copy.deallocate()
            throw error
        }
    }

    deinit {
        if owned { UnsafeMutableRawPointer(mutating: base).deallocate() } else { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }
    }

    private static func parseHeader(_ base: UnsafeRawPointer, size: Int, path: String) throws
        -> ([String: TensorInfo], [String: String], Int) {
        var length: UInt64 = 0
        withUnsafeMutableBytes(of: &length) { $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: 8)) }
        length = UInt64(littleEndian: length)
        guard length <= maxHeaderLength else { throw ModelFileError.headerTooLarge(path: path, headerLength: length) }
        guard 8 + Int(length) <= size else {
            throw ModelFileError.headerPastEnd(path: path, headerLength: length, fileSize: size)
        }
        let headerData = Data(bytes: base + 8, count: Int(length))
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: headerData) } catch {
            throw ModelFileError.invalidHeader(path: path, reason: "not valid JSON")
        }
        guard let object = json as? [String: Any] else {
            throw ModelFileError.invalidHeader(path: path, reason: "top level is not an object")
        }
        let dataSize = size - 8 - Int(length)
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw ModelFileError.invalidHeader(path: path, reason: "__metadata__ is not an object")
                }
                for (k, v) in m { metadata[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw ModelFileError.invalidTensorEntry(path: path, tensor: name, reason: "not an object")
            }
            guard let dtypeName = entry["dtype"] as? String else {
                throw ModelFileError.invalidTensorEntry(path: path, tensor: name, reason: "no dtype")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw ModelFileError.invalidTensorEntry(path: path, tensor: name, reason: "unknown dtype \(dtypeName)")
            }
            guard let shapeValues = entry["shape"] as? [Any] else {
                throw ModelFileError.invalidTensorEntry(path: path, tensor: name, reason: "no shape")
            }
            var shape: [Int] = []
            for s in shapeValues {
                guard let n = exactInt(s), n >= 0 else {
                    throw ModelFileError.invalidTensorEntry(path: path, tensor: name, reason: "shape \(shapeValues) is not a list of non-negative integers")
                }
                shape.append(n)
            }
            guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = exactInt(offsets[0]), let end = exactInt(offsets[1]), begin >= 0, end >= begin else {
                throw ModelFileError.invalidTensorEntry(path: path, tensor: name, reason: "data_offsets must be [begin, end] with 0 <= begin <= end")
            }
            guard end <= dataSize else {
                throw ModelFileError.offsetsOutOfRange(path: path, tensor: name, end: end, dataSize: dataSize)
            }
            var elements = 1
            for s in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: s)
                guard !overflow else {
                    throw ModelFileError.invalidTensorEntry(path: path, tensor: name, reason: "shape \(shape) is too large")
                }
                elements = p
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteWidth)
            guard !overflow, bytes == end - begin else {
                throw ModelFileError.lengthMismatch(path: path, tensor: name, dtype: dtypeName, shape: shape, byteLength: end - begin)
            }
            tensors[name] = TensorInfo(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
        }
        let ordered = tensors.values.filter { $0.end > $0.begin }.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.begin < a.end {
            throw ModelFileError.overlappingTensors(path: path, first: a.name, second: b.name)
        }
        return (tensors, metadata, 8 + Int(length))
    }

    private static func exactInt(_ value: Any) -> Int? {
        if let n = value as? NSNumber {
            let d = n.doubleValue
            guard d == d.rounded(), d >= -9.0e15, d <= 9.0e15 else { return nil }
            return n.intValue
        }
        return nil
    }

    public var tensorNames: [String] { tensors.keys.sorted() }

    public func info(_ name: String) -> TensorInfo? { tensors[name] }

    public func location(of name: String) -> String { path }

    /// Reads a tensor, widening F16, BF16 and U8 (pixel data) to float32.
    public func load(_ name: String) throws -> Tensor {
        guard let info = tensors[name] else {
            throw ModelFileError.missingTensor(component: path, tensor: name, searched: path)
        }
        let out = Tensor(uninitialized: info.shape, longLived: true)
        try convert(name, info, into: out.unsafePointer)
        return out
    }

    public func load(_ name: String, into destination: UnsafeMutablePointer<Float>) throws {
        guard let info = tensors[name] else {
            throw ModelFileError.missingTensor(component: path, tensor: name, searched: path)
        }
        try convert(name, info, into: destination)
    }

    /// Widens tensor `name`'s data to float32 at `dst`, then drops its file pages.
    private func convert(_ name: String, _ info: TensorInfo, into dst: UnsafeMutablePointer<Float>) throws {
        let src = base + dataOffset + info.begin
        let n = info.elementCount
        switch info.dtype {
        case .f32:
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
        case .f16:
            parallelFor(n, grain: 1 << 16) { r in
                for i in r {
                    let bits = src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                    dst[i] = Float(Float16(bitPattern: UInt16(littleEndian: bits)))
                }
            }
        case .bf16:
            parallelFor(n, grain: 1 << 16) { r in
                for i in r {
                    let bits = src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                    dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bits)) << 16)
                }
            }
        case .u8:
            let bytes = src.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n { dst[i] = Float(bytes[i]) }
        default:
            throw ModelFileError.unsupportedDType(path: path, tensor: name, dtype: info.dtype.rawValue)
        }
        releasePages(from: dataOffset + info.begin, to: dataOffset + info.end)
    }

    /// Drops the mapped file pages of bytes already converted from this process's resident set
    /// (they are clean and read again from the file if needed): loading a 7 GB file of float16
    /// weights would otherwise hold all its pages beside their float32 copies until it closes.
    private func releasePages(from begin: Int, to end: Int) {
        guard !owned else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let first = (begin + page - 1) / page * page, last = end / page * page
        guard last > first else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base) + first, last - first, MADV_DONTNEED)
    }
}
