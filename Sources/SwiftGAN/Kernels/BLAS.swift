import COpenBLAS

// MARK: - The one place that calls BLAS

/// `C = alpha · op(A) · op(B) + beta · C`, row-major; op transposes when asked.
///
/// - Parameters:
///   - c: `[m, n]`, leading dimension `n`.
///   - a: `[m, k]` (or `[k, m]` when `transposeA`).
///   - b: `[k, n]` (or `[n, k]` when `transposeB`).
func sgemm(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
           m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false,
           alpha: Float = 1, beta: Float = 0) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { c.update(repeating: 0, count: m * n) }
        return
    }
    cblas_sgemm(CblasRowMajor,
                transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
                beta, c, Int32(n))
}
