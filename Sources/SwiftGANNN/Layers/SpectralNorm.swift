// MARK: - Spectral normalisation

/// Spectral normalisation of a weight as `torch.nn.utils.spectral_norm` (one power iteration,
/// eps 1e-12): the layer uses `W / σ`, σ = uᵀ W_mat v, with W_mat the weight as a matrix whose
/// rows follow the output channels (dimension 0 of a Conv2d weight, 1 of a ConvTranspose2d one).
///
/// In training mode every forward pass first runs one power iteration on u and v (off the tape):
/// v ← normalize(W_matᵀ u), u ← normalize(W_mat v). σ is differentiated through W only, with u
/// and v constant, as PyTorch does; σ = Σ W ⊙ (u ⊗ v) is written with differentiable ops, so
/// gradient penalties through a spectrally normalised critic stay exact.
public final class SpectralNorm {
    /// `weight_u` `[rows]` and `weight_v` `[columns]` (buffers).
    public let u: Tensor, v: Tensor
    /// Whether the output channels are dimension 1 of the weight (ConvTranspose2d).
    let outputsOnSecondAxis: Bool
    let eps: Float = 1e-12

    /// u and v start as normalised N(0, 1) draws, as in PyTorch.
    init(weightShape: [Int], outputsOnSecondAxis: Bool, rng: inout RandomGenerator) {
        self.outputsOnSecondAxis = outputsOnSecondAxis
        let rows = weightShape[outputsOnSecondAxis ? 1 : 0]
        let columns = weightShape.reduce(1, *) / rows
        u = Tensor.normal([rows], rng: &rng)
        v = Tensor.normal([columns], rng: &rng)
        if AllocationCount.isCounting { return }
        SpectralNorm.normalize(u.pointer, rows, eps)
        SpectralNorm.normalize(v.pointer, columns, eps)
    }

    static func normalize(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ eps: Float) {
        var sq = 0.0
        for i in 0..<n { sq += Double(p[i]) * Double(p[i]) }
        let scale = 1 / max(Float(sq.squareRoot()), eps)
        for i in 0..<n { p[i] *= scale }
    }

    /// Calls `body(flat, row, column)` for every weight entry: its index in the weight and its place in
    /// the matrix view.
    @inline(__always) func forEachEntry(_ shape: [Int], _ body: (Int, Int, Int) -> Void) {
        let inner = shape.dropFirst(2).reduce(1, *)
        for a in 0..<shape[0] { for b in 0..<shape[1] { for r in 0..<inner {
            let flat = (a * shape[1] + b) * inner + r
            if outputsOnSecondAxis { body(flat, b, a * inner + r) } else { body(flat, a, b * inner + r) }
        } } }
    }

    /// One power iteration on u and v with the current weight.
    func powerIteration(_ weight: Tensor) {
        let w = weight.pointer, up = u.pointer, vp = v.pointer
        var wtu = [Double](repeating: 0, count: v.count)  // W_matᵀ u
        forEachEntry(weight.shape) { flat, i, j in wtu[j] += Double(w[flat]) * Double(up[i]) }
        for j in 0..<v.count { vp[j] = Float(wtu[j]) }
        SpectralNorm.normalize(vp, v.count, eps)
        var wv = [Double](repeating: 0, count: u.count)  // W_mat v
        forEachEntry(weight.shape) { flat, i, j in wv[i] += Double(w[flat]) * Double(vp[j]) }
        for i in 0..<u.count { up[i] = Float(wv[i]) }
        SpectralNorm.normalize(up, u.count, eps)
    }

    /// `W / σ` (after a power iteration when training).
    func normalized(_ weight: Tensor, training: Bool) -> Tensor {
        if training { powerIteration(weight) }
        let outer = Tensor(uninitialized: weight.shape)  // u ⊗ v laid out as the weight, a constant
        let o = outer.pointer, up = u.pointer, vp = v.pointer
        forEachEntry(weight.shape) { flat, i, j in o[flat] = up[i] * vp[j] }
        return weight / (weight * outer).sum()
    }
}
