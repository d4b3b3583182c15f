import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

/// The sample-quality metrics against closed forms and direct sums (the Python suite checks them against SciPy).
final class SampleQualityTests: XCTestCase {
    /// Deterministic pseudo-random doubles in [-1, 1).
    private func values(_ count: Int, seed: UInt64) -> [Double] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
    }

    func testFrechetDistanceOfDiagonalGaussiansIsTheClosedForm() throws {
        // Σ₁ = diag(a), Σ₂ = diag(b): Tr √(Σ₁Σ₂) = Σ √(aᵢbᵢ), so the distance is |Δμ|² + Σ (√aᵢ − √bᵢ)².
        let a = [1.0, 4.0, 0.25], b = [9.0, 1.0, 0.0]
        let diagonal = { (v: [Double]) in (0..<9).map { $0 % 4 == 0 ? v[$0 / 4] : 0.0 } }
        let distance = try SampleQuality.frechetDistance(mean1: [0, 1, 2], covariance1: diagonal(a),
                                                         mean2: [1, 1, 0], covariance2: diagonal(b))
        var expected = 1.0 + 4.0
        for (x, y) in zip(a, b) { expected += (x.squareRoot() - y.squareRoot()) * (x.squareRoot() - y.squareRoot()) }
        XCTAssertEqual(distance, expected, accuracy: 1e-12)
    }

    func testTheDistanceOfAFeatureSetToItselfIsZero() throws {
        // Tr √(ΣΣ) = Tr Σ for a full covariance (not diagonal: the eigenvectors matter), so the distance is 0.
        let x = try FeatureSet(values(400 * 5, seed: 1), count: 400, width: 5)
        let (mean, covariance) = x.statistics()
        XCTAssertEqual(try SampleQuality.frechetDistance(mean1: mean, covariance1: covariance, mean2: mean,
                                                         covariance2: covariance), 0, accuracy: 1e-12)
        XCTAssertEqual(try SampleQuality.fid(real: x, fake: x), 0, accuracy: 1e-12)
    }

    func testStatisticsAreTheMeanAndTheUnbiasedCovariance() throws {
        let raw = values(7 * 3, seed: 2)
        let (mean, covariance) = try FeatureSet(raw, count: 7, width: 3).statistics()
        for j in 0..<3 {
            XCTAssertEqual(mean[j], (0..<7).reduce(0) { $0 + raw[$1 * 3 + j] } / 7, accuracy: 1e-15)
        }
        for p in 0..<3 {
            for q in 0..<3 {
                let direct = (0..<7).reduce(0) { $0 + (raw[$1 * 3 + p] - mean[p]) * (raw[$1 * 3 + q] - mean[q]) } / 6
                XCTAssertEqual(covariance[p * 3 + q], direct, accuracy: 1e-15)
            }
        }
    }

    func testKernelDistanceIsTheUnbiasedCubicKernelSum() throws {
        let (m, d) = (6, 4)
        let xs = values(m * d, seed: 3), ys = values(m * d, seed: 4).map { $0 * 1.5 + 0.3 }
        let x = try FeatureSet(xs, count: m, width: d), y = try FeatureSet(ys, count: m, width: d)
        func k(_ p: [Double], _ i: Int, _ q: [Double], _ j: Int) -> Double {
            let dot = (0..<d).reduce(0) { $0 + p[i * d + $1] * q[j * d + $1] } / Double(d) + 1
            return dot * dot * dot
        }
        var xx = 0.0, yy = 0.0, xy = 0.0
        for i in 0..<m {
            for j in 0..<m {
                if i != j { xx += k(xs, i, xs, j); yy += k(ys, i, ys, j) }
                xy += k(xs, i, ys, j)
            }
        }
        let expected = xx / Double(m * (m - 1)) + yy / Double(m * (m - 1)) - 2 * xy / Double(m * m)
        let all = Array(0..<m)
        let got = try SampleQuality.kernelDistances(real: x, fake: y, realIndices: [all, all.reversed()],
                                                    fakeIndices: [all, all])
        XCTAssertEqual(got[0], expected, accuracy: 1e-12)
        XCTAssertEqual(got[1], expected, accuracy: 1e-12)  // a permuted subset: the same sums
        XCTAssertThrowsError(try SampleQuality.kernelDistances(real: x, fake: y, realIndices: [[0, 9]], fakeIndices: [[0, 1]])) {
            XCTAssertEqual(($0 as? SwiftGANError)?.message, "a subset index is outside [0, 6) or [0, 6)")
        }
    }

    func testNeighbourRadiiAndManifoldSharesDoNotDependOnTheBlockSize() throws {
        let set = try FeatureSet(values(150 * 3, seed: 5), count: 150, width: 3)
        let other = try FeatureSet(values(90 * 3, seed: 6).map { $0 + 0.4 }, count: 90, width: 3)
        let radii = SampleQuality.kthNeighbourRadii(set, k: 3)
        XCTAssertEqual(SampleQuality.kthNeighbourRadii(set, k: 3, block: 7), radii)
        // A brute-force check of one row: the 3rd smallest distance to the other rows.
        func distance(_ j: Int) -> Double {
            var sum = 0.0
            for c in 0..<3 { let delta = set.values[c] - set.values[j * 3 + c]; sum += delta * delta }
            return sum.squareRoot()
        }
        let distances = (1..<150).map(distance).sorted()
        XCTAssertEqual(radii[0], distances[2], accuracy: 1e-12)
        let share = SampleQuality.shareOnManifold(other, set, radii: radii)
        XCTAssertEqual(SampleQuality.shareOnManifold(other, set, radii: radii, block: 4), share)
        XCTAssertGreaterThan(share, 0)
        XCTAssertLessThan(share, 1)
        XCTAssertThrowsError(try SampleQuality.precisionRecall(real: set, fake: other, k: 90)) {
            XCTAssertEqual(($0 as? SwiftGANError)?.message, "k must be in [1, 89] for sets of 150 and 90, got 90")
        }
    }

    func testNonFiniteOrMisshapenFeaturesAreRefused() {
        XCTAssertThrowsError(try FeatureSet([1, .nan, 0, 0], count: 2, width: 2, name: "fake_features")) {
            XCTAssertEqual(($0 as? SwiftGANError)?.message, "fake_features holds non-finite values")
        }
        XCTAssertThrowsError(try FeatureSet([1, 2, 3], count: 1, width: 3)) {
            XCTAssertEqual(($0 as? SwiftGANError)?.message, "features must be features [N, D] with 2 ≤ N ≤ 2^31, 1 ≤ D ≤ 2^20, got [1, 3]")
        }
        XCTAssertThrowsError(try FeatureSet([1, 2, 3], count: 2, width: 2)) {
            XCTAssertEqual(($0 as? SwiftGANError)?.message, "features holds 3 values, not the 4 of [2, 2]")
        }
        // The statistics of the Fréchet distance: shapes that agree, finite values, checked by the core alone.
        XCTAssertThrowsError(try SampleQuality.frechetDistance(mean1: [0, 0], covariance1: [1, 0, 0, 1], mean2: [0],
                                                               covariance2: [1])) {
            XCTAssertEqual(($0 as? SwiftGANError)?.message,
                           "the statistics disagree in shape: means of 2 and 1 values, covariances of 4 and 1")
        }
        XCTAssertThrowsError(try SampleQuality.frechetDistance(mean1: [0], covariance1: [.infinity], mean2: [0],
                                                               covariance2: [1])) {
            XCTAssertEqual(($0 as? SwiftGANError)?.message, "covariance1 holds non-finite values")
        }
    }
}
