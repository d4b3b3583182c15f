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
package func sgemm(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
           m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false,
           alpha: Float = 1, beta: Float = 0) {
    if emptyProduct(c, m: m, n: n, k: k, beta: beta) { return }
    if Precision.current == .bf16 {
        // The operands rounded to bfloat16, the product accumulated as in float32 (`Precision`).
        return withWorkingBuffer(Float.self, m * k + k * n) { roundedA in
            let roundedB = roundedA + m * k
            roundToBFloat16(roundedA, from: a, m * k)
            roundToBFloat16(roundedB, from: b, k * n)
            Precision.using(.fp32) {
                sgemm(c, roundedA, roundedB, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                      alpha: alpha, beta: beta)
            }
        }
    }
    if k < doublePrecisionReduction {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
                    beta, c, Int32(n))
        return
    }
    withWorkingBuffer(Double.self, m * k + k * n + m * n) { wideA in
        let wideB = wideA + m * k, wideC = wideB + k * n
        for i in 0..<(m * k) { wideA[i] = Double(a[i]) }
        for i in 0..<(k * n) { wideB[i] = Double(b[i]) }
        for i in 0..<(m * n) { wideC[i] = beta == 0 ? 0 : Double(c[i]) }
        dgemm(wideC, wideA, wideB, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
              alpha: Double(alpha), beta: Double(beta))
        for i in 0..<(m * n) { c[i] = Float(wideC[i]) }
    }
}

/// `count` values of `T` in a buffer of the tensor pool (`Storage`) while `body` runs, uninitialised: a kernel's
/// working copy, cut from the pool's free blocks beside the tensors rather than taken from malloc. (From malloc,
/// the copies of the bf16 and double-precision products, 2-4 MB at DCGAN-64 batch 64, grew the C heap past what the
/// pool had free, and moved glibc's mmap threshold so that later large requests stayed in the heap.)
private func withWorkingBuffer<T, R>(_: T.Type, _ count: Int, _ body: (UnsafeMutablePointer<T>) -> R) -> R {
    let floats = (count * MemoryLayout<T>.stride + MemoryLayout<Float>.stride - 1) / MemoryLayout<Float>.stride
    let storage = Storage(count: max(floats, 1))
    return withExtendedLifetime(storage) {
        storage.pointer.withMemoryRebound(to: T.self, capacity: max(count, 1)) { body($0) }
    }
}

/// Whether `[m, k] · [k, n]` is empty: nothing to do when m or n is 0; when k is 0, C is zeroed for beta = 0 and
/// otherwise left as it is (the callers' beta is 0 or 1).
private func emptyProduct<T: BinaryFloatingPoint>(_ c: UnsafeMutablePointer<T>, m: Int, n: Int, k: Int, beta: T) -> Bool {
    if m == 0 || n == 0 { return true }
    if k == 0 && beta == 0 { c.update(repeating: 0, count: m * n) }
    return k == 0
}

/// The kernels OpenBLAS chose when it was loaded (`OPENBLAS_CORETYPE`, else its table of processor models): "SkylakeX",
/// "Haswell", ... . Debian's OpenBLAS 0.3.21 does not know processors newer than its table (an Intel Xeon family 6
/// model 207, AMD Zen 5) and runs its SSE3 "Prescott" kernels on them; the Python package sets
/// `OPENBLAS_CORETYPE` from the processor's instruction sets before it loads the library (`swiftgan/processor.py`).
package var openBLASKernels: String { String(cString: openblas_get_corename()) }

// MARK: - Double precision, for the sample-quality metrics

/// `C = alpha · op(A) · op(B) + beta · C` in double precision, row-major (as `sgemm`).
package func dgemm(_ c: UnsafeMutablePointer<Double>, _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>,
           m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false,
           alpha: Double = 1, beta: Double = 0) {
    if emptyProduct(c, m: m, n: n, k: k, beta: beta) { return }
    cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
                beta, c, Int32(n))
}

/// The eigenvalues (ascending) and eigenvectors of a symmetric `[n, n]` matrix (LAPACK's `dsyevd`).
///
/// - Returns: `values` `[n]` and `vectors` `[n, n]` row-major with eigenvector `j` in column `j`.
/// - Throws: when the solver does not converge.
package func symmetricEigen(_ matrix: [Double], n: Int) throws(SwiftGANError) -> (values: [Double], vectors: [Double]) {
    precondition(matrix.count == n * n)
    if n == 0 { return ([], []) }
    var a = matrix  // symmetric, so its row-major and column-major layouts are the same
    var values = [Double](repeating: 0, count: n)
    var job = CChar(UInt8(ascii: "V")), upper = CChar(UInt8(ascii: "U"))
    var size = Int32(n), info: Int32 = 0
    var workSize: Double = 0, iworkSize: Int32 = 0, query: Int32 = -1
    dsyevd_(&job, &upper, &size, &a, &size, &values, &workSize, &query, &iworkSize, &query, &info)
    var lwork = Int32(workSize), liwork = iworkSize
    var work = [Double](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
    dsyevd_(&job, &upper, &size, &a, &size, &values, &work, &lwork, &iwork, &liwork, &info)
    guard info == 0 else { throw SwiftGANError("the symmetric eigensolver did not converge (dsyevd info \(info))") }
    // LAPACK wrote eigenvector j into column j in column-major order: row-major, that is row j; transpose.
    var vectors = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { vectors[i * n + j] = a[j * n + i] } }
    return (values, vectors)
}
