import Foundation
import Numerics

/// Whole layers of SDXL's UNet at 1024 px (batch 2, a guided step) as Numerics runs them on the
/// runtime's workers: attention at the 64x64 and 32x32 levels and Winograd 3x3 convolutions at
/// each level's width. GFLOP/s count the work as PyTorch's flop counter does (4 b h n² d for
/// attention, 2 m n k per direct convolution), so a convolution above the peak did fewer
/// multiplications than a direct one.
enum LayerTable {
    struct Layer {
        let name: String
        let flop: Double
        let make: (Precision) -> () -> Void
    }

    static func attention(tokens: Int, heads: Int) -> Layer {
        let width = heads * 64
        let shape = [2, tokens, width]
        let q = Tensor(shape: shape, scalars: values(2 * tokens * width, seed: 11))
        let k = Tensor(shape: shape, scalars: values(2 * tokens * width, seed: 12))
        let v = Tensor(shape: shape, scalars: values(2 * tokens * width, seed: 13))
        return Layer(name: "self-attention \(tokens) tokens, \(heads)x64", flop: 4 * 2 * Double(heads) * Double(tokens * tokens) * 64) { precision in
            { _ = multiHeadAttention(q: q, k: k, v: v, heads: heads, precision: precision) }
        }
    }

    static func conv(side: Int, channels: Int) -> Layer {
        let x = Tensor(shape: [2, side, side, channels], scalars: values(2 * side * side * channels, seed: 14))
        let w = Tensor(shape: [channels, channels, 3, 3], scalars: values(channels * channels * 9, seed: 15).map { $0 * 0.05 })
        let flop = 2 * Double(2 * side * side) * Double(channels * channels * 9)
        return Layer(name: "conv3x3 \(channels) @\(side)x\(side)", flop: flop) { precision in
            let conv = Conv2D(torchWeight: w, bias: nil, stride: 1, padding: 1, precision: precision)
            return { _ = conv(x) }
        }
    }

    static func run(samples: Int, f32Peak: [Double]?, bf16Peak: [Double]?) {
        print("")
        print("layers at 1024 px, batch 2, on the runtime's workers; GFLOP/s of the work PyTorch counts")
        print(pad("layer", 38) + padLeft("GFLOP", 9) + "  "
              + ["f32 s", "f32", "f32 %pk", "bf16 s", "bf16", "bf16 %pk"].map { padLeft($0, 9) }.joined())
        let layers = [attention(tokens: 4096, heads: 10), attention(tokens: 1024, heads: 20),
                      conv(side: 128, channels: 320), conv(side: 64, channels: 640), conv(side: 32, channels: 1280)]
        for layer in layers {
            var cells: [String] = []
            for (precision, peak) in [(Precision.fp32, f32Peak), (.bf16, bf16Peak)] {
                let call = layer.make(precision)
                let seconds = median(flop: layer.flop, call)
                let rate = layer.flop / seconds / 1e9
                cells += [String(format: "%.3f", seconds), String(format: "%.1f", rate), share(rate, of: peak)]
            }
            print(pad(layer.name, 38) + padLeft(String(format: "%.1f", layer.flop / 1e9), 9) + "  "
                  + cells.map { padLeft($0, 9) }.joined())
        }
    }
}
