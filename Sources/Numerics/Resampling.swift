/// Nearest-neighbour 2x upsampling of `[batch, h, w, c]` (torch `interpolate(scale_factor=2,
/// mode="nearest")`).
public func upsampleNearest2x(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4)
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let out = Tensor(uninitialized: [n, 2 * h, 2 * w, c])
    let s = x.unsafePointer, d = out.unsafePointer
    parallelFor(n * 2 * h, grain: 4) { r in
        for row in r {
            let b = row / (2 * h), y = row % (2 * h)
            let srcRow = s + (b * h + y / 2) * w * c
            let dstRow = d + row * 2 * w * c
            for x in 0..<(2 * w) { (dstRow + x * c).update(from: srcRow + (x / 2) * c, count: c) }
        }
    }
    return out
}

/// 2x2 average pooling of `[batch, h, w, c]` with stride 2 (torch `avg_pool2d(kernel_size=2)`).
public func averagePool2x(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4)
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = (h / 2, w / 2)
    let out = Tensor(uninitialized: [n, oh, ow, c])
    let s = x.unsafePointer, d = out.unsafePointer
    parallelFor(n * oh, grain: 4) { r in
        for row in r {
            let b = row / oh, y = row % oh
            for xx in 0..<ow {
                let p00 = s + ((b * h + 2 * y) * w + 2 * xx) * c, p01 = p00 + c
                let p10 = p00 + w * c, p11 = p10 + c
                let o = d + (row * ow + xx) * c
                for ch in 0..<c { o[ch] = (p00[ch] + p01[ch] + p10[ch] + p11[ch]) * 0.25 }
            }
        }
    }
    return out
}

/// Concatenates tensors along their last axis (channels for channels-last images).
public func concatenateLastAxis(_ parts: [Tensor]) -> Tensor {
    precondition(!parts.isEmpty)
    let lead = Array(parts[0].shape.dropLast())
    let widths = parts.map { $0.shape.last! }
    for p in parts { precondition(Array(p.shape.dropLast()) == lead, "concat shapes disagree: \(p.shape) vs \(lead)") }
    let total = widths.reduce(0, +)
    let rows = lead.reduce(1, *)
    let out = Tensor(uninitialized: lead + [total])
    let d = out.unsafePointer
    let sources = parts.map { $0.unsafePointer }
    parallelFor(rows, grain: max(1, 4096 / max(total, 1))) { r in
        for row in r {
            var offset = 0
            for (i, s) in sources.enumerated() {
                (d + row * total + offset).update(from: s + row * widths[i], count: widths[i])
                offset += widths[i]
            }
        }
    }
    return out
}

/// Nearest-neighbour resize of `[batch, h, w, c]` to `height x width` with torch's "nearest"
/// index rule (`floor(dst * in / out)`, exact halving for 2x).
public func upsampleNearest(_ x: Tensor, height oh: Int, width ow: Int) -> Tensor {
    precondition(x.rank == 4)
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    if oh == 2 * h && ow == 2 * w { return upsampleNearest2x(x) }
    func index(_ o: Int, _ input: Int, _ output: Int) -> Int {
        if output == 2 * input { return o >> 1 }
        let scale = Float(input) / Float(output)
        return min(Int((Float(o) * scale).rounded(.down)), input - 1)
    }
    let out = Tensor(uninitialized: [n, oh, ow, c])
    let s = x.unsafePointer, d = out.unsafePointer
    parallelFor(n * oh, grain: 4) { r in
        for row in r {
            let b = row / oh, y = index(row % oh, h, oh)
            for xx in 0..<ow {
                (d + (row * ow + xx) * c).update(from: s + ((b * h + y) * w + index(xx, w, ow)) * c, count: c)
            }
        }
    }
    return out
}
