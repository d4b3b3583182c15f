import Glibc

// MARK: - Where a step's time goes

/// The kinds of kernel a step's time is split into when profiling.
public enum KernelKind: Int, CaseIterable {
    /// Convolutions' forward pass (oneDNN, or one GEMM when dense).
    case convolution
    /// Their input gradients, which are also the transposed convolutions' forward pass.
    case convolutionBackwardData
    /// Their weight gradients.
    case convolutionBackwardWeights
    /// Matrix products of linear layers.
    case matrixProduct
    /// Batch normalisation (training mode), forward and backward.
    case batchNorm
    /// Element-wise, broadcast, reduction and resampling kernels.
    case elementwise
    /// Optimizer updates.
    case optimizer

    /// The name the profile reports.
    public var name: String {
        ["convolution", "convolution_backward_data", "convolution_backward_weights", "matrix_product", "batch_norm",
         "elementwise", "optimizer"][rawValue]
    }
}

/// Accumulated seconds per kernel kind, and in calls into the core, while `isEnabled`
/// (`SWIFTGAN_PROFILE=1` in the environment, or set from code). Off, a kernel pays one branch.
public enum Profile {
    /// Whether kernels are being timed.
    public static var isEnabled: Bool = getenv("SWIFTGAN_PROFILE").map { String(cString: $0) != "0" } ?? false
    private static var kernelSeconds = [Double](repeating: 0, count: KernelKind.allCases.count)
    private static var coreSeconds = 0.0
    private static var mutex: pthread_mutex_t = {
        var m = pthread_mutex_t()
        pthread_mutex_init(&m, nil)
        return m
    }()

    /// Seconds since an arbitrary origin (monotonic clock).
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Runs `body`, adding its duration to `kind` when profiling.
    @inline(__always)
    package static func time<R>(_ kind: KernelKind, _ body: () -> R) -> R {
        if !isEnabled { return body() }
        let start = now()
        defer { add(now() - start, to: kind) }
        return body()
    }

    private static func add(_ seconds: Double, to kind: KernelKind?) {
        pthread_mutex_lock(&mutex)
        if let kind { kernelSeconds[kind.rawValue] += seconds } else { coreSeconds += seconds }
        pthread_mutex_unlock(&mutex)
    }

    /// Runs a whole call into the core (`sg_*`), adding its duration to the core's total when profiling.
    public static func timeCall<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        if !isEnabled { return try body() }
        let start = now()
        defer { add(now() - start, to: nil) }
        return try body()
    }

    /// `(name, seconds)` per kernel kind, then `("other_core", …)` (the tape, allocation and copies: the
    /// calls' time outside the kernels) and `("core", …)` (the calls' total), since the last reset.
    public static var report: [(String, Double)] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let kernels = KernelKind.allCases.map { ($0.name, kernelSeconds[$0.rawValue]) }
        return kernels + [("other_core", max(0, coreSeconds - kernelSeconds.reduce(0, +))), ("core", coreSeconds)]
    }

    /// Zeroes the accumulated times.
    public static func reset() {
        pthread_mutex_lock(&mutex)
        kernelSeconds = kernelSeconds.map { _ in 0 }
        coreSeconds = 0
        pthread_mutex_unlock(&mutex)
    }
}
