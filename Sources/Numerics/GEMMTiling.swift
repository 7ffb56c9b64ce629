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
    /// The fewest multiply-adds per tile (`m·n·k` / tiles) worth a call of its own.
    public static let minimumTileWork = 1_048_576.0
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
        let work = Double(m) * Double(n) * Double(k)
        guard work >= GEMMTiling.splitThreshold else {
            rows = max(m, 1); columns = max(n, 1); return
        }
        let target = max(1, min(GEMMTiling.targetTiles, Int(work / GEMMTiling.minimumTileWork)))
        // Row blocks first (they share B, usually the smaller operand), then columns.
        let rowBlocks = GEMMTiling.blocks(m, wanted: target, minimum: GEMMTiling.minimumRows)
        rows = GEMMTiling.blockSize(m, blocks: rowBlocks)
        let wanted = (target + rowBlocks - 1) / rowBlocks
        columns = GEMMTiling.blockSize(n, blocks: GEMMTiling.blocks(n, wanted: wanted, minimum: GEMMTiling.minimumColumns))
    }

    /// How many blocks to cut `size` into: `wanted`, fewer when blocks would be under `minimum`.
    static func blocks(_ size: Int, wanted: Int, minimum: Int) -> Int {
        max(1, min(wanted, size / max(minimum, 1)))
    }

    /// The size of `blocks` near-equal blocks of `size`, rounded up to a multiple of 16 (the
    /// kernels' register blocks); the last block takes what is left.
    static func blockSize(_ size: Int, blocks: Int) -> Int {
        let b = ((size + blocks - 1) / blocks + 15) / 16 * 16
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
