import COpenBLAS

// MARK: - The one place that calls BLAS

/// Reductions at least this long are computed in double precision (`dgemm`), then rounded once.
///
/// OpenBLAS's float32 kernels lose accuracy over long reductions, and more with its AVX2 kernels
/// (`OPENBLAS_CORETYPE=Haswell`, set on some machines) than with its AVX-512 ones: over the 1,024-long
/// reduction of the auto-encoder critic's encoder, float32 rounding flipped the sign of BEGAN's L1
/// subgradient at pixels whose residual was near zero (11 of 4,096 of G's first gradients off the float64
/// reference by more than the parity tolerance; none in double). The layers with such reductions (a dense
/// layer after a flattened feature map) are small matrix products, where double precision costs little.
let doublePrecisionReduction = 512

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
    let opA = transposeA ? CblasTrans : CblasNoTrans, opB = transposeB ? CblasTrans : CblasNoTrans
    let lda = Int32(transposeA ? m : k), ldb = Int32(transposeB ? k : n)
    if k < doublePrecisionReduction {
        cblas_sgemm(CblasRowMajor, opA, opB, Int32(m), Int32(n), Int32(k), alpha, a, lda, b, ldb, beta, c, Int32(n))
        return
    }
    let wideA = widened(a, m * k), wideB = widened(b, k * n)
    let wideC = UnsafeMutableBufferPointer<Double>.allocate(capacity: m * n)
    defer { wideA.deallocate(); wideB.deallocate(); wideC.deallocate() }
    for i in 0..<(m * n) { wideC[i] = beta == 0 ? 0 : Double(c[i]) }
    cblas_dgemm(CblasRowMajor, opA, opB, Int32(m), Int32(n), Int32(k), Double(alpha), wideA.baseAddress, lda,
                wideB.baseAddress, ldb, Double(beta), wideC.baseAddress, Int32(n))
    for i in 0..<(m * n) { c[i] = Float(wideC[i]) }
}

/// A double-precision copy of `count` floats.
private func widened(_ source: UnsafePointer<Float>, _ count: Int) -> UnsafeMutableBufferPointer<Double> {
    let out = UnsafeMutableBufferPointer<Double>.allocate(capacity: count)
    for i in 0..<count { out[i] = Double(source[i]) }
    return out
}
