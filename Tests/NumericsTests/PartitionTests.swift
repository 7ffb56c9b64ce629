import Foundation
@testable import Numerics
import XCTest

/// Every split of the work depends on the problem's sizes alone, so 1, 2, 3 or 8 workers run the
/// same floating-point operations on every element and give the same bits.
final class PartitionTests: XCTestCase {
    let workerCounts = [1, 2, 3, 8]

    /// The ranges `parallelFor` hands to its body on `workers` threads, sorted.
    func ranges(count: Int, grain: Int, workers: Int) -> [Range<Int>] {
        let lock = NSLock()
        var seen: [Range<Int>] = []
        parallelFor(count, grain: grain, workers: workers) { r in lock.lock(); seen.append(r); lock.unlock() }
        return seen.sorted { $0.lowerBound < $1.lowerBound }
    }

    func testParallelForRangesAreTheSameForEveryWorkerCount() {
        for (count, grain) in [(0, 1), (1, 1), (7, 4), (1000, 1), (100_003, 64), (10_000_000, 1 << 15), (256 * 40 + 3, 1)] {
            let expected = ChunkPartition(count: count, grain: grain).ranges
            for workers in workerCounts {
                XCTAssertEqual(ranges(count: count, grain: grain, workers: workers), expected, "count \(count) grain \(grain) workers \(workers)")
            }
            // Contiguous, in order, covering 0..<count once.
            XCTAssertEqual(expected.first?.lowerBound ?? 0, 0)
            XCTAssertEqual(expected.last?.upperBound ?? 0, count)
            for (a, b) in zip(expected, expected.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
        }
    }

    func testChunkCountComesFromCountAndGrainWithAFixedCap() {
        XCTAssertEqual(ChunkPartition(count: 10, grain: 4).chunks, 2)
        XCTAssertEqual(ChunkPartition(count: 3, grain: 4).chunks, 1)
        XCTAssertEqual(ChunkPartition(count: 1 << 24, grain: 1).chunks, ChunkPartition.limit)
        XCTAssertGreaterThanOrEqual(ChunkPartition.limit, 64 * 4, "four chunks for each of 64 workers")
        for range in ChunkPartition(count: 1000, grain: 64).ranges { XCTAssertGreaterThanOrEqual(range.count, 64) }
    }

    func testGEMMTilesCoverCOnceAndComeFromTheSizes() {
        // SDXL's products at 1024x1024 (batch 2) and a few awkward sizes.
        for (m, n, k) in [(16380, 320, 320), (4224, 640, 640), (2048, 1280, 1280), (2048, 10240, 1280), (8192, 640, 640),
                          (1088, 1280, 1280), (32768, 320, 640), (15390, 128, 128), (300, 300, 300), (4097, 17, 333)] {
            let tiling = GEMMTiling(m: m, n: n, k: k)
            var covered = [UInt8](repeating: 0, count: m * n)
            for i in 0..<tiling.count {
                let t = tiling.tile(i)
                XCTAssertTrue(t.rows > 0 && t.columns > 0)
                if t.row + t.rows < m { XCTAssertEqual(t.rows % 16, 0, "\(m)x\(n)x\(k): tile rows a multiple of 16") }
                for r in t.row..<(t.row + t.rows) { for c in t.column..<(t.column + t.columns) { covered[r * n + c] += 1 } }
            }
            XCTAssertTrue(covered.allSatisfy { $0 == 1 }, "\(m)x\(n)x\(k): every element in exactly one tile")
            if Double(m) * Double(n) * Double(k) >= 8 * GEMMTiling.splitThreshold {
                XCTAssertGreaterThanOrEqual(tiling.count, 8, "\(m)x\(n)x\(k): enough tiles to keep workers busy")
            }
        }
        XCTAssertEqual(GEMMTiling(m: 64, n: 64, k: 64).count, 1, "small products stay one call")
        // SDXL's largest products give about 64 near-equal tiles: work for 64 workers.
        XCTAssertEqual(GEMMTiling(m: 16380, n: 320, k: 320).count, 61)
        XCTAssertEqual(GEMMTiling(m: 2048, n: 10240, k: 1280).count, 64)
        XCTAssertEqual(GEMMTiling(m: 8192, n: 640, k: 640).count, 64)
        let conv = GEMMTiling(m: 4224, n: 640, k: 640)
        XCTAssertEqual([conv.rows, conv.columns, conv.count], [272, 320, 32], "16 x 2 tiles, none a sliver")
    }

    func testGEMMGivesTheSameBitsOnEveryWorkerCount() {
        for (m, n, k, transA, transB) in [(1000, 300, 200, false, true), (700, 520, 90, true, false), (333, 1030, 64, false, false)] {
            let a = randomTensor([m * k], seed: 1), b = randomTensor([k * n], seed: 2), c0 = randomTensor([m * n], seed: 3)
            XCTAssertGreaterThan(GEMMTiling(m: m, n: n, k: k).count, 1, "the product is split")
            func product(workers: Int) -> [Float] {
                let c = Tensor(shape: [m * n], scalars: c0.scalars)
                gemm(m: m, n: n, k: k, a: a.unsafePointer, lda: transA ? m : k, transA: transA,
                     b: b.unsafePointer, ldb: transB ? k : n, transB: transB, c: c.unsafePointer, ldc: n,
                     alpha: 0.5, beta: 1, workers: workers)
                return c.scalars
            }
            let one = product(workers: 1), whole = product(workers: 0)
            for workers in workerCounts.dropFirst() {
                XCTAssertTrue(product(workers: workers) == one, "\(m)x\(n)x\(k) on \(workers) workers")
            }
            let worst = zip(one, whole).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-3, "tiles compute the same product as one call")
        }
    }

    func testGroupNormGivesTheSameBitsOnEveryWorkerCount() {
        // Far-from-zero means make the variance a difference of large sums: the most sensitive case.
        for (n, spatial, c, groups) in [(2, 4096, 32, 4), (1, 16384, 16, 4), (1, 1000, 96, 32)] {
            var x = randomTensor([n, spatial, c], seed: UInt64(spatial + c)).scaled(by: 3)
            x.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] += 40 } }
            let norm = GroupNorm(groups: groups, epsilon: 1e-5, weight: randomTensor([c], seed: 8), bias: randomTensor([c], seed: 9))
            for silu in [false, true] {
                let one = norm.normalize(x, silu: silu, workers: 1).scalars
                for workers in workerCounts.dropFirst() {
                    XCTAssertTrue(norm.normalize(x, silu: silu, workers: workers).scalars == one, "\(spatial)x\(c) on \(workers) workers")
                }
            }
        }
    }
}
