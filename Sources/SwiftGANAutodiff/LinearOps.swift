// MARK: - Matrix product

/// `op(a) · op(b)` for 2-D tensors, where op transposes when asked.
///
/// - Parameters:
///   - a: `[M, K]` (or `[K, M]` when `transposeA`).
///   - b: `[K, N]` (or `[N, K]` when `transposeB`).
/// - Returns: `[M, N]`.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.shape.count == 2 && b.shape.count == 2, "matmul takes 2-D tensors")
    let m = transposeA ? a.shape[1] : a.shape[0], k = transposeA ? a.shape[0] : a.shape[1]
    let kb = transposeB ? b.shape[1] : b.shape[0], n = transposeB ? b.shape[0] : b.shape[1]
    precondition(k == kb, "matmul: inner sizes \(a.shape) and \(b.shape) differ")
    let c = Tensor(uninitialized: [m, n])
    Profile.time(.matrixProduct) {
        sgemm(c.pointer, a.pointer, b.pointer, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
    }
    return record(c, [a, b]) { [precision = Precision.current] g, needed in
        Precision.using(precision) {  // the backward in the forward's precision
            let ga: Tensor? = !needed[0] ? nil
                : transposeA ? matmul(b, g, transposeA: transposeB, transposeB: true)
                : matmul(g, b, transposeA: false, transposeB: !transposeB)
            let gb: Tensor? = !needed[1] ? nil
                : transposeB ? matmul(g, a, transposeA: true, transposeB: transposeA)
                : matmul(a, g, transposeA: !transposeA, transposeB: false)
            return [ga, gb]
        }
    }
}

/// `x · wᵀ + b` as `torch.nn.functional.linear`. x: `[N, in]`, weight: `[out, in]`, bias: `[out]`.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let y = matmul(x, weight, transposeB: true)
    return bias.map { y + $0 } ?? y
}
