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
        SpectralNorm.normalize(u.pointer, rows, eps)
        SpectralNorm.normalize(v.pointer, columns, eps)
    }

    static func normalize(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ eps: Float) {
        var sq = 0.0
        for i in 0..<n { sq += Double(p[i]) * Double(p[i]) }
        let scale = 1 / max(Float(sq.squareRoot()), eps)
        for i in 0..<n { p[i] *= scale }
    }

    /// Index of W[a, b, rest] in the matrix view: (row, column).
    @inline(__always) func matrixIndex(_ a: Int, _ b: Int, _ r: Int, inner: Int, second: Int) -> (Int, Int) {
        outputsOnSecondAxis ? (b, (a * inner) + r) : (a, b * inner + r)
    }

    /// One power iteration on u and v with the current weight.
    func powerIteration(_ weight: Tensor) {
        let s = weight.shape, inner = s.dropFirst(2).reduce(1, *)
        let rows = u.count, columns = v.count, w = weight.pointer
        let newV = [Double](unsafeUninitializedCapacity: columns) { buf, n in
            buf.initialize(repeating: 0); n = columns
            for a in 0..<s[0] { for b in 0..<s[1] { for r in 0..<inner {
                let (i, j) = matrixIndex(a, b, r, inner: inner, second: s[1])
                buf[j] += Double(w[(a * s[1] + b) * inner + r]) * Double(u.pointer[i])
            } } }
        }
        for j in 0..<columns { v.pointer[j] = Float(newV[j]) }
        SpectralNorm.normalize(v.pointer, columns, eps)
        let newU = [Double](unsafeUninitializedCapacity: rows) { buf, n in
            buf.initialize(repeating: 0); n = rows
            for a in 0..<s[0] { for b in 0..<s[1] { for r in 0..<inner {
                let (i, j) = matrixIndex(a, b, r, inner: inner, second: s[1])
                buf[i] += Double(w[(a * s[1] + b) * inner + r]) * Double(v.pointer[j])
            } } }
        }
        for i in 0..<rows { u.pointer[i] = Float(newU[i]) }
        SpectralNorm.normalize(u.pointer, rows, eps)
    }

    /// `W / σ` (after a power iteration when training).
    func normalized(_ weight: Tensor, training: Bool) -> Tensor {
        if training { powerIteration(weight) }
        let s = weight.shape, inner = s.dropFirst(2).reduce(1, *)
        let outer = Tensor(uninitialized: s)  // u ⊗ v laid out as the weight, a constant
        for a in 0..<s[0] { for b in 0..<s[1] { for r in 0..<inner {
            let (i, j) = matrixIndex(a, b, r, inner: inner, second: s[1])
            outer.pointer[(a * s[1] + b) * inner + r] = u.pointer[i] * v.pointer[j]
        } } }
        return weight / (weight * outer).sum()
    }
}
