/// The fixed tiles a large product `C[m, n] = A[m, k] B[k, n]` is split into, chosen from `m`, `n`
/// and `k` alone.
///
/// Each tile is one single-threaded `cblas_sgemm` over the whole of `k`. Tiles are the same for
/// every thread count, so OpenBLAS runs the same kernels on the same blocks and every element of
/// C is summed in the same order on 1 or 64 threads.
public struct GEMMTiling: Equatable, Sendable {
    /// Products with fewer multiply-adds (`m·n·k`) stay one call.
    public static let splitThreshold = 4_000_000.0
    /// Enough tiles for 64 workers, when the product is large enough.
    public static let targetTiles = 64
    /// The smallest tile height and width worth a call of its own (multiples of 16, like the
    /// kernels' register blocks).
    public static let minimumRows = 256, minimumColumns = 256

    public let m: Int
    public let n: Int
    /// Rows of every tile but those in the last row of tiles.
    public let rows: Int
    /// Columns of every tile but those in the last column of tiles.
    public let columns: Int

    public init(m: Int, n: Int, k: Int) {
        self.m = max(m, 0); self.n = max(n, 0)
        guard Double(m) * Double(n) * Double(k) >= GEMMTiling.splitThreshold else {
            rows = max(m, 1); columns = max(n, 1); return
        }
        // Row blocks first (they share B, usually the smaller operand), then columns.
        let r = GEMMTiling.block(m, parts: GEMMTiling.targetTiles, minimum: GEMMTiling.minimumRows)
        let rowBlocks = (m + r - 1) / r
        let wanted = (GEMMTiling.targetTiles + rowBlocks - 1) / rowBlocks
        rows = r
        columns = GEMMTiling.block(n, parts: wanted, minimum: GEMMTiling.minimumColumns)
    }

    /// A block size, a multiple of 16 of at least `minimum`, that cuts `size` into about `parts`.
    static func block(_ size: Int, parts: Int, minimum: Int) -> Int {
        let even = (size + parts - 1) / max(parts, 1)
        let b = max(minimum, (even + 15) / 16 * 16)
        return b >= size ? max(size, 1) : b
    }

    public var rowBlocks: Int { (m + rows - 1) / rows }
    public var columnBlocks: Int { (n + columns - 1) / columns }
    public var count: Int { rowBlocks * columnBlocks }

    /// Tile `i` (row-major over the tiles): its first row and column and its size.
    public func tile(_ i: Int) -> (row: Int, column: Int, rows: Int, columns: Int) {
        let r0 = (i / columnBlocks) * rows, c0 = (i % columnBlocks) * columns
        return (r0, c0, min(rows, m - r0), min(columns, n - c0))
    }
}
