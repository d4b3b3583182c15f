// Convolution kernels: whole-batch im2col / col2im around one large GEMM.
// Column matrices are laid out [C·KH·KW, N·OH·OW] so that one sgemm covers
// the batch; the data movement around it is threaded and uses pooled buffers.

// MARK: - Geometry

/// The sizes of a 2-D convolution: input image `[N, C, H, W]`, kernel `KH×KW`,
/// stride, zero padding, and output grid `OH×OW`.
public struct ConvGeometry: Equatable {
    public let batch: Int, channels: Int, height: Int, width: Int
    public let kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int
    public let outputHeight: Int, outputWidth: Int

    /// The geometry of a convolution over an `[N, C, H, W]` image.
    public init(batch: Int, channels: Int, height: Int, width: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int) {
        self.init(batch: batch, channels: channels, height: height, width: width,
                  kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride, padding: padding,
                  outputHeight: (height + 2 * padding - kernelHeight) / stride + 1,
                  outputWidth: (width + 2 * padding - kernelWidth) / stride + 1)
    }

    init(batch: Int, channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
         stride: Int, padding: Int, outputHeight: Int, outputWidth: Int) {
        self.batch = batch; self.channels = channels; self.height = height; self.width = width
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.padding = padding
        self.outputHeight = outputHeight; self.outputWidth = outputWidth
    }

    /// Rows of the column matrix: C·KH·KW.
    var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// Columns of the column matrix: N·OH·OW.
    var columns: Int { batch * outputHeight * outputWidth }
    var imageCount: Int { batch * channels * height * width }
}

// MARK: - im2col / col2im

extension ConvGeometry {
    /// The output columns `ox` whose input column `ox·stride + kj − padding` lies inside the image.
    @inline(__always) func validColumns(kernelColumn kj: Int) -> Range<Int> {
        let low = max(0, (padding - kj + stride - 1) / stride)
        let high = min(outputWidth, (width + padding - kj + stride - 1) / stride)
        return low..<max(low, high)
    }
}

/// Unfolds image patches: `cols[(c,ki,kj), (n,oy,ox)] = x[n, c, oy·s+ki−p, ox·s+kj−p]` (0 outside).
func im2col(_ cols: UnsafeMutablePointer<Float>,  // [C·KH·KW, N·OH·OW]
            _ x: UnsafePointer<Float>,  // [N, C, H, W]
            _ g: ConvGeometry) {
    let oh = g.outputHeight, ow = g.outputWidth, h = g.height, w = g.width
    let kk = g.kernelHeight * g.kernelWidth
    let s = g.stride, p = g.padding
    parallelChunks(g.patchSize, costPerItem: g.columns) { rows in
        for row in rows {
            let c = row / kk, ki = (row % kk) / g.kernelWidth, kj = row % g.kernelWidth
            var dst = cols + row * g.columns
            let valid = g.validColumns(kernelColumn: kj)
            let oxLow = valid.lowerBound, oxHigh = valid.upperBound
            for n in 0..<g.batch {
                let image = x + (n * g.channels + c) * h * w
                for oy in 0..<oh {
                    let iy = oy * s + ki - p
                    if iy < 0 || iy >= h || oxLow >= oxHigh {
                        dst.update(repeating: 0, count: ow)
                    } else {
                        let src = image + iy * w + kj - p
                        for ox in 0..<oxLow { dst[ox] = 0 }
                        if s == 1 {
                            (dst + oxLow).update(from: src + oxLow, count: oxHigh - oxLow)
                        } else {
                            for ox in oxLow..<oxHigh { dst[ox] = src[ox * s] }
                        }
                        for ox in oxHigh..<ow { dst[ox] = 0 }
                    }
                    dst += ow
                }
            }
        }
    }
}

/// Folds columns back: `x[n, c, iy, ix] = Σ cols` over the patches that cover it (the adjoint of im2col).
func col2im(_ x: UnsafeMutablePointer<Float>,  // [N, C, H, W]
            _ cols: UnsafePointer<Float>,  // [C·KH·KW, N·OH·OW]
            _ g: ConvGeometry) {
    let oh = g.outputHeight, ow = g.outputWidth, h = g.height, w = g.width
    let kh = g.kernelHeight, kw = g.kernelWidth
    let s = g.stride, p = g.padding
    parallelChunks(g.channels, costPerItem: g.columns * kh * kw) { channels in
        for c in channels {
            for n in 0..<g.batch { (x + (n * g.channels + c) * h * w).update(repeating: 0, count: h * w) }
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let row = (c * kh + ki) * kw + kj
                    var src = cols + row * g.columns
                    let valid = g.validColumns(kernelColumn: kj)
                    let oxLow = valid.lowerBound, oxHigh = valid.upperBound
                    for n in 0..<g.batch {
                        let image = x + (n * g.channels + c) * h * w
                        for oy in 0..<oh {
                            let iy = oy * s + ki - p
                            if iy >= 0 && iy < h && oxLow < oxHigh {
                                let dst = image + iy * w + kj - p
                                if s == 1 {
                                    for ox in oxLow..<oxHigh { dst[ox] += src[ox] }
                                } else {
                                    for ox in oxLow..<oxHigh { dst[ox * s] += src[ox] }
                                }
                            }
                            src += ow
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Layout changes around the GEMM

/// `[N, C, S]` → `[C, N·S]`.
func batchToChannelMajor(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int) {
    parallelChunks(channels, costPerItem: batch * spatial) { cs in
        for c in cs { for n in 0..<batch { (out + (c * batch + n) * spatial).update(from: x + (n * channels + c) * spatial, count: spatial) } }
    }
}

/// `[C, N·S]` → `[N, C, S]`.
func channelToBatchMajor(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int) {
    parallelChunks(channels, costPerItem: batch * spatial) { cs in
        for c in cs { for n in 0..<batch { (out + (n * channels + c) * spatial).update(from: x + (c * batch + n) * spatial, count: spatial) } }
    }
}

// MARK: - Convolution kernels

/// Cross-correlation: `y[n,o] = Σ_c w[o,c] ⋆ x[n,c]` (no bias).
func conv2dForward(_ y: UnsafeMutablePointer<Float>,  // [N, O, OH, OW]
                   _ x: UnsafePointer<Float>,  // [N, C, H, W]
                   _ w: UnsafePointer<Float>,  // [O, C, KH, KW]
                   outChannels: Int, _ g: ConvGeometry) {
    let cols = Storage(count: g.patchSize * g.columns)
    im2col(cols.pointer, x, g)
    if g.batch == 1 {
        sgemm(y, w, cols.pointer, m: outChannels, n: g.columns, k: g.patchSize)
        return
    }
    let product = Storage(count: outChannels * g.columns)  // [O, N·OH·OW]
    sgemm(product.pointer, w, cols.pointer, m: outChannels, n: g.columns, k: g.patchSize)
    channelToBatchMajor(y, product.pointer, batch: g.batch, channels: outChannels, spatial: g.outputHeight * g.outputWidth)
}

/// The adjoint of `conv2dForward` in x (a transposed convolution):
/// `x[n,c] = Σ_o w[o,c] ⋆ᵀ y[n,o]`, written into the image of geometry `g`.
func conv2dBackwardInput(_ x: UnsafeMutablePointer<Float>,  // [N, C, H, W]
                         _ y: UnsafePointer<Float>,  // [N, O, OH, OW]
                         _ w: UnsafePointer<Float>,  // [O, C, KH, KW]
                         outChannels: Int, _ g: ConvGeometry) {
    let cols = Storage(count: g.patchSize * g.columns)
    if g.batch == 1 {
        sgemm(cols.pointer, w, y, m: g.patchSize, n: g.columns, k: outChannels, transposeA: true)
    } else {
        let yc = Storage(count: outChannels * g.columns)  // [O, N·OH·OW]
        batchToChannelMajor(yc.pointer, y, batch: g.batch, channels: outChannels, spatial: g.outputHeight * g.outputWidth)
        sgemm(cols.pointer, w, yc.pointer, m: g.patchSize, n: g.columns, k: outChannels, transposeA: true)
    }
    col2im(x, cols.pointer, g)
}

/// The weight gradient of `conv2dForward`: `gw[o,c,ki,kj] = Σ_{n,oy,ox} gy[n,o,oy,ox] · x[n,c,oy·s+ki−p,ox·s+kj−p]`.
func conv2dBackwardWeight(_ gw: UnsafeMutablePointer<Float>,  // [O, C, KH, KW]
                          _ gy: UnsafePointer<Float>,  // [N, O, OH, OW]
                          _ x: UnsafePointer<Float>,  // [N, C, H, W]
                          outChannels: Int, _ g: ConvGeometry) {
    let cols = Storage(count: g.patchSize * g.columns)
    im2col(cols.pointer, x, g)
    if g.batch == 1 {
        sgemm(gw, gy, cols.pointer, m: outChannels, n: g.patchSize, k: g.columns, transposeB: true)
        return
    }
    let gyc = Storage(count: outChannels * g.columns)
    batchToChannelMajor(gyc.pointer, gy, batch: g.batch, channels: outChannels, spatial: g.outputHeight * g.outputWidth)
    sgemm(gw, gyc.pointer, cols.pointer, m: outChannels, n: g.patchSize, k: g.columns, transposeB: true)
}
