// MARK: - Pooling, zero padding and bilinear resizing (forward only: feature networks in evaluation)
//
// Each works plane by plane (one [H, W] image of one channel) on NCHW data, as torch.nn.functional's
// max_pool2d, avg_pool2d(count_include_pad=False), pad and interpolate(mode="bilinear", align_corners=False).

/// The output side of a pooling window of `kernel` cells moved by `stride` over `size` cells padded by `padding`.
package func pooledSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
    (size + 2 * padding - kernel) / stride + 1
}

/// `y[i, j]` = the largest `x` in the `kernel`×`kernel` window at `(i·stride − padding, j·stride − padding)`;
/// padded cells never count (torch's max_pool2d).
package func maxPool2dForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, planes: Int,
                              height h: Int, width w: Int, kernel k: Int, stride s: Int, padding p: Int) {
    let oh = pooledSize(h, kernel: k, stride: s, padding: p), ow = pooledSize(w, kernel: k, stride: s, padding: p)
    Profile.time(.elementwise) {
        parallelChunks(planes, costPerItem: oh * ow * k * k) { range in
            for plane in range {
                let src = x + plane * h * w, dst = y + plane * oh * ow
                for i in 0..<oh {
                    let top = i * s - p, rows = max(top, 0)..<min(top + k, h)
                    for j in 0..<ow {
                        let left = j * s - p, columns = max(left, 0)..<min(left + k, w)
                        var best = -Float.infinity
                        for r in rows {
                            for c in columns where src[r * w + c] > best || src[r * w + c].isNaN { best = src[r * w + c] }
                        }
                        dst[i * ow + j] = best  // NaN wins and stays, as in torch
                    }
                }
            }
        }
    }
}

/// `y[i, j]` = the mean of `x` over the 3×3 window centred at `(i, j)`, the cells outside the image left out of
/// both the sum and the count (torch's avg_pool2d with stride 1, padding 1 and count_include_pad=False).
package func averagePool3x3Forward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, planes: Int,
                                   height h: Int, width w: Int) {
    Profile.time(.elementwise) {
        parallelChunks(planes, costPerItem: 9 * h * w) { range in
            for plane in range {
                let src = x + plane * h * w, dst = y + plane * h * w
                for i in 0..<h {
                    let rows = max(i - 1, 0)..<min(i + 2, h)
                    for j in 0..<w {
                        let columns = max(j - 1, 0)..<min(j + 2, w)
                        var sum: Float = 0
                        for r in rows { for c in columns { sum += src[r * w + c] } }
                        dst[i * w + j] = sum / Float(rows.count * columns.count)
                    }
                }
            }
        }
    }
}

/// `y` = `x` with `top` zero rows above and below and `left` zero columns on each side.
package func zeroPadForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, planes: Int,
                            height h: Int, width w: Int, top: Int, left: Int) {
    let ph = h + 2 * top, pw = w + 2 * left
    Profile.time(.elementwise) {
        parallelChunks(planes, costPerItem: ph * pw) { range in
            for plane in range {
                let src = x + plane * h * w, dst = y + plane * ph * pw
                dst.update(repeating: 0, count: ph * pw)
                for i in 0..<h { (dst + (i + top) * pw + left).update(from: src + i * w, count: w) }
            }
        }
    }
}

/// The two source cells and their weights of each output cell of a bilinear resize from `input` to `output`
/// cells, as torch computes them with align_corners=False: source = (o + ½)·input/output − ½, clamped at 0.
private func bilinearTaps(_ input: Int, _ output: Int) -> [(Int, Int, Float, Float)] {
    let scale = Float(input) / Float(output)
    return (0..<output).map { o in
        let source = max(scale * (Float(o) + 0.5) - 0.5, 0)
        let low = Int(source), high = low < input - 1 ? low + 1 : low
        let toHigh = source - Float(low)
        return (low, high, 1 - toHigh, toHigh)
    }
}

/// Bilinear resizing of each plane from `h`×`w` to `outHeight`×`outWidth` (torch's interpolate, mode
/// "bilinear", align_corners=False, no antialiasing).
package func bilinearResizeForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, planes: Int,
                                   height h: Int, width w: Int, outHeight oh: Int, outWidth ow: Int) {
    let rows = bilinearTaps(h, oh), columns = bilinearTaps(w, ow)
    Profile.time(.elementwise) {
        parallelChunks(planes, costPerItem: 4 * oh * ow) { range in
            for plane in range {
                let src = x + plane * h * w, dst = y + plane * oh * ow
                for (i, (r0, r1, a0, a1)) in rows.enumerated() {
                    let top = src + r0 * w, bottom = src + r1 * w
                    for (j, (c0, c1, b0, b1)) in columns.enumerated() {
                        dst[i * ow + j] = a0 * (b0 * top[c0] + b1 * top[c1]) + a1 * (b0 * bottom[c0] + b1 * bottom[c1])
                    }
                }
            }
        }
    }
}
