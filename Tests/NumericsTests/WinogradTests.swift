import Foundation
@testable import Numerics
import XCTest

/// Winograd F(4x4, 3x3) against a double-precision direct convolution, on sizes that leave
/// partial tiles, asymmetric padding, several bands and several output-channel blocks.
final class WinogradTests: XCTestCase {
    func check(n: Int, h: Int, w: Int, ci: Int, co: Int, pad: (Int, Int, Int, Int), bias: Bool,
               variant: Winograd.Variant? = nil, block: Int? = nil, bandTiles: Int? = nil, file: StaticString = #filePath, line: UInt = #line) {
        let x = randomTensor([n, h, w, ci], seed: UInt64(h * 31 + w * 7 + ci))
        let weight = randomTensor([co, ci, 3, 3], seed: UInt64(co * 13 + 3))
        let b = bias ? randomTensor([co], seed: 98) : nil
        let conv = Conv2D(torchWeight: weight, bias: b, stride: 1, padding: pad)
        let (oh, ow) = conv.outputSize(height: h, width: w)
        XCTAssertTrue(Winograd.applies(kernel: (3, 3), stride: 1, inChannels: ci, outChannels: co,
                                         tiles: n * ((oh + 3) / 4) * ((ow + 3) / 4)), "exercises Winograd", file: file, line: line)
        let out = Tensor(uninitialized: [n, oh, ow, co])
        Winograd.convolve(x.unsafePointer, n: n, h: h, w: w, ci: ci, weights: conv.winogradWeights, co: co,
                            bias: b?.unsafePointer, top: pad.0, left: pad.2, oh: oh, ow: ow, into: out.unsafePointer,
                            variant: variant, block: block, bandTiles: bandTiles)
        let expected = referenceConv(x, weight: weight, bias: b, stride: 1, pad: pad)
        XCTAssertEqual(out.count, expected.count, file: file, line: line)
        XCTAssertLessThan(maxRelativeError(out.scalars, expected), 2e-5, "\(n)x\(h)x\(w) \(ci)->\(co) pad \(pad)", file: file, line: line)
    }

    func testPartialTilesAndPadding() {
        check(n: 2, h: 13, w: 9, ci: 32, co: 48, pad: (1, 1, 1, 1), bias: true)
        check(n: 1, h: 17, w: 22, ci: 48, co: 32, pad: (0, 1, 0, 1), bias: false)
        check(n: 1, h: 16, w: 16, ci: 32, co: 32, pad: (0, 0, 0, 0), bias: true)
        check(n: 1, h: 5, w: 30, ci: 64, co: 32, pad: (2, 0, 1, 2), bias: true)
    }

    /// F(2x2, 3x3) (bf16 weights' variant) in float32, so its transforms are checked exactly.
    func testF2x2TransformsMatchTheDirectConvolution() {
        check(n: 2, h: 13, w: 9, ci: 32, co: 48, pad: (1, 1, 1, 1), bias: true, variant: .f2x2)
        check(n: 1, h: 17, w: 22, ci: 48, co: 32, pad: (0, 1, 0, 1), bias: false, variant: .f2x2)
        check(n: 1, h: 5, w: 30, ci: 64, co: 32, pad: (2, 0, 1, 2), bias: true, variant: .f2x2, block: 16, bandTiles: 7)
    }

    func testSeveralBandsAndOutputBlocks() {
        // SDXL's 1280 channels take output blocks of 176; bands stay near 32 MB.
        XCTAssertEqual(Winograd.outputBlock(inChannels: 1280, outChannels: 1280), 176)
        XCTAssertEqual(Winograd.outputBlock(inChannels: 512, outChannels: 512), 448)
        XCTAssertEqual(Winograd.band(tiles: 4096, inChannels: 128, block: 128), 896)
        XCTAssertEqual(Winograd.band(tiles: 4096, inChannels: 512, block: 448), 256)
        // Blocks of 32 of 80 output channels (the last one 16), bands of 7 tiles that cross
        // from one image into the next.
        check(n: 2, h: 14, w: 11, ci: 32, co: 80, pad: (1, 1, 1, 1), bias: true, block: 32, bandTiles: 7)
        check(n: 2, h: 70, w: 90, ci: 32, co: 32, pad: (1, 1, 1, 1), bias: true)
    }

    func testUpsamplingIsReadThroughWithoutACopy() {
        let x = randomTensor([2, 7, 5, 32], seed: 11)
        let conv = Conv2D(torchWeight: randomTensor([48, 32, 3, 3], seed: 12), bias: randomTensor([48], seed: 13), stride: 1, padding: 1)
        let fused = conv.afterNearest2x(x)
        XCTAssertEqual(fused.shape, [2, 14, 10, 48])
        let expected = referenceConv(upsampleNearest2x(x), weight: randomTensor([48, 32, 3, 3], seed: 12), bias: randomTensor([48], seed: 13),
                                     stride: 1, pad: (1, 1, 1, 1))
        XCTAssertLessThan(maxRelativeError(fused.scalars, expected), 2e-5)
        XCTAssertTrue(fused.scalars == conv(upsampleNearest2x(x)).scalars, "the same numbers as upsampling first")
    }

    func testBitIdenticalOnRepeatAndThroughConv2D() {
        let x = randomTensor([1, 40, 24, 64], seed: 5)
        let conv = Conv2D(torchWeight: randomTensor([96, 64, 3, 3], seed: 6), bias: randomTensor([96], seed: 7), stride: 1, padding: 1)
        let a = conv(x), b = conv(x)
        XCTAssertTrue(a.scalars == b.scalars)
        let expected = referenceConv(x, weight: randomTensor([96, 64, 3, 3], seed: 6), bias: randomTensor([96], seed: 7), stride: 1, pad: (1, 1, 1, 1))
        XCTAssertLessThan(maxRelativeError(a.scalars, expected), 2e-5)
    }
}
