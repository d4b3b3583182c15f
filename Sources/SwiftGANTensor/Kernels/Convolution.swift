// Convolution kernels: the geometry of a 2-D convolution and its three passes (forward,
// backward-data, backward-weights), run on oneDNN (OneDNN.swift) or, when dense, as one sgemm.

// MARK: - Geometry

/// The sizes of a 2-D convolution: input image `[N, C, H, W]`, kernel `KH×KW`,
/// stride, zero padding, and output grid `OH×OW`.
public struct ConvGeometry: Hashable {
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

    package init(batch: Int, channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
         stride: Int, padding: Int, outputHeight: Int, outputWidth: Int) {
        self.batch = batch; self.channels = channels; self.height = height; self.width = width
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.padding = padding
        self.outputHeight = outputHeight; self.outputWidth = outputWidth
    }

    /// Elements of one window: C·KH·KW.
    var patchSize: Int { channels * kernelHeight * kernelWidth }
}

// MARK: - Convolution kernels
//
// Convolutions run on oneDNN, except the dense ones (one window covering the whole unpadded image,
// as a DCGAN critic's last layer and a generator's first): those are plain matrix products, where
// oneDNN has only its reference kernel.

extension ConvGeometry {
    /// One output pixel whose window is the whole unpadded image: `y[n, o] = ⟨w[o], x[n]⟩`.
    var isDense: Bool {
        padding == 0 && kernelHeight == height && kernelWidth == width && outputHeight == 1 && outputWidth == 1
    }
}

/// Cross-correlation: `y[n,o] = Σ_c w[o,c] ⋆ x[n,c]` (no bias).
package func conv2dForward(_ y: UnsafeMutablePointer<Float>,  // [N, O, OH, OW]
                   _ x: UnsafePointer<Float>,  // [N, C, H, W]
                   _ w: UnsafePointer<Float>,  // [O, C, KH, KW]
                   outChannels: Int, _ g: ConvGeometry) {
    Profile.time(.convolution) {
        if g.isDense {
            sgemm(y, x, w, m: g.batch, n: outChannels, k: g.patchSize, transposeB: true)  // [N, O] = [N, CKK]·[O, CKK]ᵀ
        } else {
            dnnlConvolution(.forward, y, x, w, outChannels: outChannels, g)
        }
    }
}

/// The adjoint of `conv2dForward` in x (a transposed convolution):
/// `x[n,c] = Σ_o w[o,c] ⋆ᵀ y[n,o]`, written into the image of geometry `g`.
package func conv2dBackwardInput(_ x: UnsafeMutablePointer<Float>,  // [N, C, H, W]
                         _ y: UnsafePointer<Float>,  // [N, O, OH, OW]
                         _ w: UnsafePointer<Float>,  // [O, C, KH, KW]
                         outChannels: Int, _ g: ConvGeometry) {
    Profile.time(.convolutionBackwardData) {
        if g.isDense {
            sgemm(x, y, w, m: g.batch, n: g.patchSize, k: outChannels)  // [N, CKK] = [N, O]·[O, CKK]
        } else {
            dnnlConvolution(.backwardData, x, y, w, outChannels: outChannels, g)
        }
    }
}

/// The weight gradient of `conv2dForward`: `gw[o,c,ki,kj] = Σ_{n,oy,ox} gy[n,o,oy,ox] · x[n,c,oy·s+ki−p,ox·s+kj−p]`.
package func conv2dBackwardWeight(_ gw: UnsafeMutablePointer<Float>,  // [O, C, KH, KW]
                          _ gy: UnsafePointer<Float>,  // [N, O, OH, OW]
                          _ x: UnsafePointer<Float>,  // [N, C, H, W]
                          outChannels: Int, _ g: ConvGeometry) {
    Profile.time(.convolutionBackwardWeights) {
        if g.isDense {
            sgemm(gw, gy, x, m: outChannels, n: g.patchSize, k: g.batch, transposeA: true)  // [O, CKK] = [N, O]ᵀ·[N, CKK]
        } else {
            dnnlConvolution(.backwardWeights, gw, gy, x, outChannels: outChannels, g)
        }
    }
}
