// Differentiable convolutions. Three ops close the family under differentiation:
// the convolution, its adjoint in the input (which is the transposed
// convolution), and its weight gradient; each one's backward uses the others.
// A backward runs in the `Precision` its forward ran in, wherever the backward is started from.

// MARK: - Public ops

/// 2-D cross-correlation as `torch.nn.functional.conv2d` (no bias).
///
/// - Parameters:
///   - x: `[N, C, H, W]`.
///   - weight: `[O, C, KH, KW]`.
/// - Returns: `[N, O, OH, OW]`, `OH = (H + 2·padding − KH) / stride + 1`.
public func conv2d(_ x: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.shape.count == 4 && weight.shape.count == 4 && x.shape[1] == weight.shape[1],
                 "conv2d: input \(x.shape) does not match weight \(weight.shape)")
    let g = ConvGeometry(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3],
                         kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
    return convolution(x, weight, g)
}

/// 2-D transposed convolution as `torch.nn.functional.conv_transpose2d` (no bias).
///
/// - Parameters:
///   - x: `[N, Cin, H, W]`.
///   - weight: `[Cin, Cout, KH, KW]` (PyTorch's ConvTranspose2d layout).
///   - outputPadding: extra rows/columns on the bottom/right of the output.
/// - Returns: `[N, Cout, OH, OW]`, `OH = (H − 1)·stride − 2·padding + KH + outputPadding`.
public func convTranspose2d(_ x: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0) -> Tensor {
    precondition(x.shape.count == 4 && weight.shape.count == 4 && x.shape[1] == weight.shape[0],
                 "convTranspose2d: input \(x.shape) does not match weight \(weight.shape)")
    let kh = weight.shape[2], kw = weight.shape[3]
    // The geometry of the convolution whose input adjoint this is.
    let g = ConvGeometry(batch: x.shape[0], channels: weight.shape[1],
                         height: (x.shape[2] - 1) * stride - 2 * padding + kh + outputPadding,
                         width: (x.shape[3] - 1) * stride - 2 * padding + kw + outputPadding,
                         kernelHeight: kh, kernelWidth: kw, stride: stride, padding: padding,
                         outputHeight: x.shape[2], outputWidth: x.shape[3])
    return convolutionInputAdjoint(x, weight, g)
}

// MARK: - The three closed ops

/// `y = conv(x, w)` for geometry `g`. x: `[N, C, H, W]`, w: `[O, C, KH, KW]`.
func convolution(_ x: Tensor, _ w: Tensor, _ g: ConvGeometry) -> Tensor {
    let o = w.shape[0]
    let y = Tensor(uninitialized: [g.batch, o, g.outputHeight, g.outputWidth])
    conv2dForward(y.pointer, x.pointer, w.pointer, outChannels: o, g)
    return record(y, [x, w]) { [precision = Precision.current] gy, needed in
        Precision.using(precision) {
            // The weight gradient first: its working copies are freed before the input gradient is allocated.
            let gw = needed[1] ? convolutionWeightGradient(gy, x, g) : nil
            return [needed[0] ? convolutionInputAdjoint(gy, w, g) : nil, gw]
        }
    }
}

/// `x = convᵀ(y, w)`: the adjoint of `convolution` in its input. y: `[N, O, OH, OW]` → `[N, C, H, W]`.
func convolutionInputAdjoint(_ y: Tensor, _ w: Tensor, _ g: ConvGeometry) -> Tensor {
    let x = Tensor(uninitialized: [g.batch, g.channels, g.height, g.width])
    conv2dBackwardInput(x.pointer, y.pointer, w.pointer, outChannels: w.shape[0], g)
    return record(x, [y, w]) { [precision = Precision.current] gx, needed in
        Precision.using(precision) {
            let gw = needed[1] ? convolutionWeightGradient(y, gx, g) : nil  // first, as in `convolution`
            return [needed[0] ? convolution(gx, w, g) : nil, gw]
        }
    }
}

/// `gw = ∂⟨gy, conv(x, w)⟩/∂w`: bilinear in gy `[N, O, OH, OW]` and x `[N, C, H, W]` → `[O, C, KH, KW]`.
func convolutionWeightGradient(_ gy: Tensor, _ x: Tensor, _ g: ConvGeometry) -> Tensor {
    #if DEBUG
    Instrumentation.convolutionWeightGradients += 1
    #endif
    let o = gy.shape[1]
    let gw = Tensor(uninitialized: [o, g.channels, g.kernelHeight, g.kernelWidth])
    conv2dBackwardWeight(gw.pointer, gy.pointer, x.pointer, outChannels: o, g)
    return record(gw, [gy, x]) { [precision = Precision.current] ggw, needed in
        Precision.using(precision) {
            [needed[0] ? convolution(x, ggw, g) : nil,
             needed[1] ? convolutionInputAdjoint(gy, ggw, g) : nil]
        }
    }
}

#if DEBUG
/// Debug-build counters that tests use to check that work was skipped.
enum Instrumentation {
    /// Convolution weight gradients computed so far.
    static var convolutionWeightGradients = 0
}
#endif
