// MARK: - Upsampling

/// Nearest-neighbour 2× upsampling as `torch.nn.Upsample(scale_factor=2)`: `[N, C, H, W]` → `[N, C, 2H, 2W]`.
public func upsampleNearest2x(_ x: Tensor) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let y = Tensor(uninitialized: [n, c, 2 * h, 2 * w])
    upsampleNearest2xForward(y.pointer, x.pointer, planes: n * c, height: h, width: w)
    return record(y, [x]) { g, _ in [sumPool2x2(g)] }
}

/// `upsampleNearest2x(x)`, with `refill`, which writes the same output again from x (for `recomputingIntermediate`).
package func upsampleNearest2xRecomputable(_ x: Tensor) -> (output: Tensor, refill: (UnsafeMutablePointer<Float>) -> Void) {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return (upsampleNearest2x(x), { upsampleNearest2xForward($0, x.pointer, planes: n * c, height: h, width: w) })
}

/// `upsampleNearest2x` of a recomputable op's output t, with the refill that writes t again in a scratch buffer
/// (freed at once) and upsamples it: t itself is held by nothing once the upsampling has run.
package func upsampledRecomputable(_ pre: (output: Tensor, refill: (UnsafeMutablePointer<Float>) -> Void))
    -> (output: Tensor, refill: (UnsafeMutablePointer<Float>) -> Void) {
    let shape = pre.output.shape, refill = pre.refill
    return (upsampleNearest2x(pre.output), { out in
        let t = Tensor(uninitialized: shape)
        refill(t.pointer)
        upsampleNearest2xForward(out, t.pointer, planes: shape[0] * shape[1], height: shape[2], width: shape[3])
    })
}

/// The sum over each 2×2 block: `[N, C, 2H, 2W]` → `[N, C, H, W]` (the adjoint of `upsampleNearest2x`).
public func sumPool2x2(_ y: Tensor) -> Tensor {
    let (n, c, h, w) = (y.shape[0], y.shape[1], y.shape[2] / 2, y.shape[3] / 2)
    let x = Tensor(uninitialized: [n, c, h, w])
    sumPool2x2Forward(x.pointer, y.pointer, planes: n * c, height: h, width: w)
    return record(x, [y]) { g, _ in [upsampleNearest2x(g)] }
}

/// 2×2 mean pooling as `torch.nn.AvgPool2d(2)`: `[N, C, 2H, 2W]` → `[N, C, H, W]`, the sum over each block quartered.
public func meanPool2x2(_ x: Tensor) -> Tensor { sumPool2x2(x) * 0.25 }
