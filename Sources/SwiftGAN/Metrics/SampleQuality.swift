// MARK: - Sample-quality metrics

/// A set of feature vectors, one row per image (a classifier's features), in double precision.
public struct FeatureSet: Sendable {
    /// `[count, width]`, row-major.
    public let values: [Double]
    public let count: Int
    public let width: Int

    /// Checks the shape of a feature set before its values are read: 2 ≤ N ≤ 2³¹ rows of 1 ≤ D ≤ 2²⁰ values, at most
    /// 2³⁴ in all.
    public static func checkShape(count: Int, width: Int, name: String) throws(SwiftGANError) {
        guard count >= 2, count <= 1 << 31, width >= 1, width <= 1 << 20, count * width <= 1 << 34 else {
            throw SwiftGANError("\(name) must be features [N, D] with 2 ≤ N ≤ 2^31, 1 ≤ D ≤ 2^20, got [\(count), \(width)]")
        }
    }

    /// - Throws: when the shape is refused (`checkShape`), or `values` does not hold `count × width` finite values.
    public init(_ values: [Double], count: Int, width: Int, name: String = "features") throws(SwiftGANError) {
        try Self.checkShape(count: count, width: width, name: name)
        guard values.count == count * width else {
            throw SwiftGANError("\(name) holds \(values.count) values, not the \(count * width) of [\(count), \(width)]")
        }
        guard values.allSatisfy(\.isFinite) else { throw SwiftGANError("\(name) holds non-finite values") }
        (self.values, self.count, self.width) = (values, count, width)
    }

    /// The mean `[D]` and the covariance `[D, D]` (normalised by N − 1, as the reference FID code's `np.cov`).
    public func statistics() -> (mean: [Double], covariance: [Double]) {
        var mean = [Double](repeating: 0, count: width)
        for i in 0..<count { for j in 0..<width { mean[j] += values[i * width + j] } }
        for j in 0..<width { mean[j] /= Double(count) }
        var centred = values
        for i in 0..<count { for j in 0..<width { centred[i * width + j] -= mean[j] } }
        var covariance = [Double](repeating: 0, count: width * width)
        dgemm(&covariance, centred, centred, m: width, n: width, k: count, transposeA: true,
              alpha: 1 / Double(count - 1))
        return (mean, covariance)
    }

    /// The squared norm of each row, `[count]`.
    func squaredNorms() -> [Double] {
        (0..<count).map { i in (0..<width).reduce(0) { $0 + values[i * width + $1] * values[i * width + $1] } }
    }

    /// Rows `rows` as a new `[rows.count, width]` block.
    func rows(_ rows: some Collection<Int>) -> [Double] {
        var out = [Double]()
        out.reserveCapacity(rows.count * width)
        for i in rows { out += values[(i * width)..<((i + 1) * width)] }
        return out
    }
}

/// FID, KID and improved precision/recall between feature sets, in double precision, with the reference
/// implementations' conventions.
public enum SampleQuality {
    /// The Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂): ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr √(Σ₁Σ₂).
    ///
    /// Tr √(Σ₁Σ₂) is Σ √λᵢ over the eigenvalues of the symmetric √Σ₁ Σ₂ √Σ₁ (the eigenvalues of Σ₁Σ₂), rounding
    /// below 0 clipped, so no complex root arises; when it is not finite, `epsilon` is added to both diagonals and
    /// it is computed again (the reference code's retry).
    ///
    /// - Parameters: `mean1`, `mean2` `[D]`; `covariance1`, `covariance2` `[D, D]`, symmetric.
    /// - Throws: for shapes that disagree, or an eigensolver that does not converge.
    public static func frechetDistance(mean1: [Double], covariance1: [Double], mean2: [Double], covariance2: [Double],
                                       epsilon: Double = 1e-6) throws(SwiftGANError) -> Double {
        let d = mean1.count
        guard d >= 1, mean2.count == d, covariance1.count == d * d, covariance2.count == d * d else {
            throw SwiftGANError("the statistics disagree in shape: means of \(mean1.count) and \(mean2.count) values, "
                                + "covariances of \(covariance1.count) and \(covariance2.count)")
        }
        for (name, values) in [("mean1", mean1), ("covariance1", covariance1), ("mean2", mean2), ("covariance2", covariance2)]
        where !values.allSatisfy(\.isFinite) {
            throw SwiftGANError("\(name) holds non-finite values")
        }
        // eigenvectors, the scaled copy, the root, the product, the middle and LAPACK's work: 8 matrices at most
        try MemoryBudget.require(8 * d * d * MemoryLayout<Double>.size, for: "the Fréchet distance of \(d)-wide statistics")
        var trace = try? traceOfSquareRootOfProduct(covariance1, covariance2, d)
        if trace.map({ !$0.isFinite }) ?? true {
            var (offset1, offset2) = (covariance1, covariance2)
            for i in 0..<d { offset1[i * d + i] += epsilon; offset2[i * d + i] += epsilon }
            trace = try traceOfSquareRootOfProduct(offset1, offset2, d)
        }
        var distance = -2 * trace!
        for i in 0..<d {
            distance += (mean1[i] - mean2[i]) * (mean1[i] - mean2[i]) + covariance1[i * d + i] + covariance2[i * d + i]
        }
        return distance
    }

    /// Tr √(Σ₁Σ₂) for symmetric positive semi-definite `[d, d]` matrices (see `frechetDistance`).
    static func traceOfSquareRootOfProduct(_ sigma1: [Double], _ sigma2: [Double], _ d: Int) throws(SwiftGANError) -> Double {
        let (values, vectors) = try symmetricEigen(sigma1, n: d)
        var scaled = vectors  // V · diag(√λ)
        for i in 0..<d { for j in 0..<d { scaled[i * d + j] *= max(values[j], 0).squareRoot() } }
        var root = [Double](repeating: 0, count: d * d), product = root, middle = root
        dgemm(&root, scaled, vectors, m: d, n: d, k: d, transposeB: true)  // √Σ₁ = V diag(√λ) Vᵀ
        dgemm(&product, root, sigma2, m: d, n: d, k: d)
        dgemm(&middle, product, root, m: d, n: d, k: d)
        for i in 0..<d { for j in 0..<i { (middle[i * d + j], middle[j * d + i]) = ((middle[i * d + j] + middle[j * d + i]) / 2, (middle[i * d + j] + middle[j * d + i]) / 2) } }
        return try symmetricEigen(middle, n: d).values.reduce(0) { $0 + max($1, 0).squareRoot() }
    }

    /// FID between two feature sets: the Fréchet distance of their means and covariances.
    public static func fid(real: FeatureSet, fake: FeatureSet) throws(SwiftGANError) -> Double {
        try requireSameWidth(real, fake)
        try requireStatistics(of: real)
        let (m1, s1) = real.statistics(), (m2, s2) = fake.statistics()
        return try frechetDistance(mean1: m1, covariance1: s1, mean2: m2, covariance2: s2)
    }

    /// The unbiased MMD² between rows of `real` and rows of `fake` with the cubic polynomial kernel
    /// k(x, y) = (x·y / d + 1)³ (KID's), for each subset: `realIndices[s]` and `fakeIndices[s]` hold the rows of
    /// subset s (m ≥ 2 each, the same m).
    ///
    /// - Returns: `[subsets]` values.
    public static func kernelDistances(real: FeatureSet, fake: FeatureSet, realIndices: [[Int]],
                                       fakeIndices: [[Int]]) throws(SwiftGANError) -> [Double] {
        try requireSameWidth(real, fake)
        guard realIndices.count == fakeIndices.count, !realIndices.isEmpty else {
            throw SwiftGANError("give the same number of real and fake subsets, at least 1: got \(realIndices.count) and \(fakeIndices.count)")
        }
        let d = real.width, largest = max(realIndices.map(\.count).max() ?? 0, fakeIndices.map(\.count).max() ?? 0)
        try MemoryBudget.require((2 * largest * d + largest * largest) * MemoryLayout<Double>.size,
                                 for: "the kernel distance of subsets of \(largest) rows of \(d)-wide features")
        return try zip(realIndices, fakeIndices).map { (a, b) throws(SwiftGANError) -> Double in
            let m = a.count
            guard m >= 2, b.count == m else { throw SwiftGANError("a subset must hold m ≥ 2 rows of each set, got \(a.count) and \(b.count)") }
            guard a.allSatisfy({ (0..<real.count).contains($0) }), b.allSatisfy({ (0..<fake.count).contains($0) }) else {
                throw SwiftGANError("a subset index is outside [0, \(real.count)) or [0, \(fake.count))")
            }
            let x = real.rows(a), y = fake.rows(b)
            func kernelSum(_ p: [Double], _ q: [Double], offDiagonal: Bool) -> Double {
                var dots = [Double](repeating: 0, count: m * m)
                dgemm(&dots, p, q, m: m, n: m, k: d, transposeB: true, alpha: 1 / Double(d))
                var sum = 0.0
                for i in 0..<m { for j in 0..<m where !offDiagonal || i != j { let k = dots[i * m + j] + 1; sum += k * k * k } }
                return sum
            }
            let pairs = Double(m * (m - 1))
            return kernelSum(x, x, offDiagonal: true) / pairs + kernelSum(y, y, offDiagonal: true) / pairs
                - 2 * kernelSum(x, y, offDiagonal: false) / Double(m * m)
        }
    }

    /// Squared distances between `block` rows of `points` (from `start`) and every row of `set`, `[rows, set.count]`.
    private static func squaredDistances(_ points: FeatureSet, _ start: Int, _ rows: Int, _ pointNorms: [Double],
                                         to set: FeatureSet, _ setNorms: [Double]) -> [Double] {
        var d2 = [Double](repeating: 0, count: rows * set.count)
        points.values.withUnsafeBufferPointer { p in
            dgemm(&d2, p.baseAddress! + start * points.width, set.values, m: rows, n: set.count, k: points.width,
                  transposeB: true, alpha: -2)
        }
        for i in 0..<rows { for j in 0..<set.count { d2[i * set.count + j] += pointNorms[start + i] + setNorms[j] } }
        return d2
    }

    /// For each row of `set`, the distance to its k-th nearest other row.
    public static func kthNeighbourRadii(_ set: FeatureSet, k: Int, block: Int = 1024) -> [Double] {
        let norms = set.squaredNorms(), n = set.count
        var radii = [Double](repeating: 0, count: n)
        for start in stride(from: 0, to: n, by: block) {
            let rows = min(block, n - start)
            let d2 = squaredDistances(set, start, rows, norms, to: set, norms)
            for i in 0..<rows {
                var nearest = [Double](repeating: .infinity, count: k)  // ascending
                for j in 0..<n where j != start + i {
                    let value = d2[i * n + j]
                    if value < nearest[k - 1] {
                        var slot = k - 1
                        while slot > 0 && nearest[slot - 1] > value { nearest[slot] = nearest[slot - 1]; slot -= 1 }
                        nearest[slot] = value
                    }
                }
                radii[start + i] = max(nearest[k - 1], 0).squareRoot()
            }
        }
        return radii
    }

    /// The share of rows of `points` within `radii[j]` of some row j of `manifold`.
    public static func shareOnManifold(_ points: FeatureSet, _ manifold: FeatureSet, radii: [Double],
                                       block: Int = 1024) -> Double {
        let pointNorms = points.squaredNorms(), manifoldNorms = manifold.squaredNorms()
        var inside = 0
        for start in stride(from: 0, to: points.count, by: block) {
            let rows = min(block, points.count - start)
            let d2 = squaredDistances(points, start, rows, pointNorms, to: manifold, manifoldNorms)
            for i in 0..<rows where (0..<manifold.count).contains(where: { max(d2[i * manifold.count + $0], 0).squareRoot() <= radii[$0] }) {
                inside += 1
            }
        }
        return Double(inside) / Double(points.count)
    }

    /// Improved precision and recall (Kynkäänniemi et al. 2019) on k-NN manifolds: precision is the share of fake
    /// rows on the real manifold, recall the share of real rows on the fake one.
    ///
    /// - Throws: unless 1 ≤ k < the smaller set's count, or when the widths differ.
    public static func precisionRecall(real: FeatureSet, fake: FeatureSet, k: Int) throws(SwiftGANError) -> (precision: Double, recall: Double) {
        try requireSameWidth(real, fake)
        guard k >= 1, k < min(real.count, fake.count) else {
            throw SwiftGANError("k must be in [1, \(min(real.count, fake.count) - 1)] for sets of \(real.count) and \(fake.count), got \(k)")
        }
        let rows = max(real.count, fake.count)
        try MemoryBudget.require((1024 * rows + 4 * rows) * MemoryLayout<Double>.size,
                                 for: "precision and recall of \(real.count) and \(fake.count) rows")
        return (shareOnManifold(fake, real, radii: kthNeighbourRadii(real, k: k)),
                shareOnManifold(real, fake, radii: kthNeighbourRadii(fake, k: k)))
    }

    /// Refuses `statistics()` of `set` when its mean and covariance (and the Fréchet distance's matrices after) would
    /// not fit in memory.
    public static func requireStatistics(of set: FeatureSet) throws(SwiftGANError) {
        try MemoryBudget.require(10 * set.width * set.width * MemoryLayout<Double>.size,
                                 for: "the covariance of \(set.width)-wide features")
    }

    private static func requireSameWidth(_ a: FeatureSet, _ b: FeatureSet) throws(SwiftGANError) {
        guard a.width == b.width else { throw SwiftGANError("the feature sets differ in width: \(a.width) and \(b.width)") }
    }
}
