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

    /// The weight as the matrix W_mat: entry (row i, column j = block·inner + r) is at flat index
    /// block·blockStride + i·rowStride + r. Rows follow the output channels: dimension 0 of the weight, whose
    /// rows are then contiguous (one block), or for a transposed convolution dimension 1, each row a block
    /// of the kernel's spatial size per input channel.
    struct MatrixView {
        let rows: Int, blocks: Int, inner: Int, rowStride: Int, blockStride: Int
        var columns: Int { blocks * inner }

        /// Calls `body(j, entries, count)` for the runs of contiguous entries of row `i` over columns
        /// `columns`, in ascending order: the entries of columns j..<j+count.
        @inline(__always)
        func forEachRun(row i: Int, _ columns: Range<Int>, _ w: UnsafePointer<Float>,
                        _ body: (Int, UnsafePointer<Float>, Int) -> Void) {
            var j = columns.lowerBound
            while j < columns.upperBound {
                let block = j / inner, r = j - block * inner, count = min(inner - r, columns.upperBound - j)
                body(j, w + block * blockStride + i * rowStride + r, count)
                j += count
            }
        }
    }

    func matrixView(_ shape: [Int]) -> MatrixView {
        let inner = shape.dropFirst(2).reduce(1, *)
        let first = shape[0], second = shape.count > 1 ? shape[1] : 1
        return outputsOnSecondAxis
            ? MatrixView(rows: second, blocks: first, inner: inner, rowStride: inner, blockStride: second * inner)
            : MatrixView(rows: first, blocks: 1, inner: second * inner, rowStride: second * inner, blockStride: 0)
    }

    /// One power iteration on u and v with the current weight. Both products accumulate in double
    /// precision, each sum in ascending order of its index (rows for W_matᵀ u, columns for W_mat v),
    /// whatever the thread count: threads split the sums, never one sum.
    func powerIteration(_ weight: Tensor) {
        let m = matrixView(weight.shape)
        let w = UnsafePointer(weight.pointer), up = u.pointer, vp = v.pointer
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: max(m.rows, m.columns))
        defer { sums.deallocate() }
        // v ← normalize(W_matᵀ u): threads take ranges of columns; each column sums over the rows in order.
        parallelChunks(m.columns, costPerItem: m.rows) { columns in
            for j in columns { sums[j] = 0 }
            for i in 0..<m.rows {
                let ui = Double(up[i])
                m.forEachRun(row: i, columns, w) { j, entries, count in
                    let out = sums + j
                    for k in 0..<count { out[k] += Double(entries[k]) * ui }
                }
            }
        }
        for j in 0..<m.columns { vp[j] = Float(sums[j]) }
        SpectralNorm.normalize(vp, m.columns, eps)
        // u ← normalize(W_mat v): threads take rows; each row sums over the columns in order, four rows
        // side by side (four independent sums).
        parallelChunks(m.rows, costPerItem: m.columns) { rows in
            var i = rows.lowerBound
            while i + 4 <= rows.upperBound {
                var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                m.forEachRun(row: i, 0..<m.columns, w) { j, e, count in
                    let vb = vp + j, d = m.rowStride
                    for k in 0..<count {
                        let vk = Double(vb[k])
                        s0 += Double(e[k]) * vk; s1 += Double(e[k + d]) * vk
                        s2 += Double(e[k + 2 * d]) * vk; s3 += Double(e[k + 3 * d]) * vk
                    }
                }
                sums[i] = s0; sums[i + 1] = s1; sums[i + 2] = s2; sums[i + 3] = s3
                i += 4
            }
            while i < rows.upperBound {
                var sum = 0.0
                m.forEachRun(row: i, 0..<m.columns, w) { j, e, count in
                    for k in 0..<count { sum += Double(e[k]) * Double(vp[j + k]) }
                }
                sums[i] = sum
                i += 1
            }
        }
        for i in 0..<m.rows { up[i] = Float(sums[i]) }
        SpectralNorm.normalize(up, m.rows, eps)
    }

    /// `W / σ` (after a power iteration when training), σ = Σ W ⊙ (u ⊗ v) with u and v as they are now.
    ///
    /// u ⊗ v, a weight-sized constant, is written for the sum and freed; σ's rule writes it again from copies of
    /// u and v (two vectors) when it runs, rather than the graph keeping it per layer and forward pass (11.7 MB
    /// per critic graph on the standard CNN's critic at width 64). The same arithmetic as the product and sum
    /// it stands for, so the same bits.
    func normalized(_ weight: Tensor, training: Bool) -> Tensor {
        if training { powerIteration(weight) }
        let (u, v, m, shape) = (self.u.copy(), self.v.copy(), matrixView(weight.shape), weight.shape)
        let outer = { SpectralNorm.outer(u, v, m, shape) }
        let sigma = withoutGradients { (weight * outer()).sum() }
        return weight / record(sigma, [weight]) { g, _ in [g.broadcast(to: shape) * outer()] }
    }

    /// u ⊗ v laid out as the weight (`m`, of `shape`), a constant.
    private static func outer(_ u: Tensor, _ v: Tensor, _ m: MatrixView, _ shape: [Int]) -> Tensor {
        let outer = Tensor(uninitialized: shape)
        let o = outer.pointer, up = u.pointer, vp = v.pointer
        parallelChunks(m.rows, costPerItem: m.columns) { rows in
            for i in rows {
                let ui = up[i]
                m.forEachRun(row: i, 0..<m.columns, UnsafePointer(o)) { j, entries, count in
                    let row = UnsafeMutablePointer(mutating: entries)
                    for k in 0..<count { row[k] = ui * vp[j + k] }
                }
            }
        }
        return outer
    }
}
