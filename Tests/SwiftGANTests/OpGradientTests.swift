import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

final class OpGradientTests: XCTestCase {
    // MARK: Element-wise

    func testBroadcastingArithmeticGradientsMatchFiniteDifferences() {
        let shapes: [([Int], [Int])] = [([2, 3, 4], [2, 3, 4]), ([2, 3, 4, 5], [1, 3, 1, 1]), ([3, 4], [4]), ([2, 3], [])]
        for (k, (sa, sb)) in shapes.enumerated() {
            let a = randomTensor(sa, seed: UInt64(k)), b = randomTensor(sb, seed: UInt64(k + 10), low: 0.5, high: 1.5)
            checkFirstOrder("add \(sa) \(sb)", [a, b]) { $0[0] + $0[1] }
            checkFirstOrder("sub \(sa) \(sb)", [a, b]) { $0[0] - $0[1] }
            checkFirstOrder("mul \(sa) \(sb)", [a, b]) { $0[0] * $0[1] }
            checkFirstOrder("div \(sa) \(sb)", [a, b], eps: 1e-3) { $0[0] / $0[1] }
            checkSecondOrder("mul \(sa) \(sb)", [a, b]) { $0[0] * $0[1] * $0[0] }
            checkSecondOrder("div \(sa) \(sb)", [a, b], eps: 1e-3) { $0[0] / $0[1] }
        }
    }

    func testUnaryGradientsMatchFiniteDifferencesToSecondOrder() {
        let x = randomTensor([3, 7], seed: 3, margin: 0.1)
        let positive = randomTensor([3, 7], seed: 4, low: 0.5, high: 2)
        let cases: [(String, Tensor, (Tensor) -> Tensor)] = [
            ("square", x, square), ("sqrt", positive, sqrt), ("abs", x, abs), ("exp", x, exp), ("log", positive, log),
            ("relu", x, relu), ("leakyRelu", x, { leakyRelu($0, slope: 0.2) }), ("tanh", x, tanh), ("sigmoid", x, sigmoid),
            ("softplus", x, softplus), ("clamp", x, { clamp($0, min: -0.5, max: 0.5) }),
            ("affine", x, { 3 - $0 * 2 }), ("selu", x, selu), ("elu", x, { elu($0, alpha: 0.7) }),
        ]
        for (name, input, f) in cases {
            checkFirstOrder(name, [input.copy()], eps: 1e-3) { f($0[0]) }
            // The second derivative shows through a non-linear use of the first.
            checkSecondOrder(name, [input.copy()], eps: 1e-3) { square(f($0[0])) * $0[0] }
        }
    }

    func testUnaryForwardMatchesDefinitions() {
        let x = Tensor([-30, -2, -0.5, 0, 0.5, 2, 30], shape: [7])
        let v = x.scalars
        let expectedSoftplus: [Float] = v.map { $0 > 20 ? $0 : Foundation.log1p(Foundation.exp($0)) }
        XCTAssertEqual(softplus(x).scalars, expectedSoftplus)
        let expectedSigmoid: [Float] = v.map { 1 / (1 + Foundation.exp(-$0)) }
        for (a, e) in zip(sigmoid(x).scalars, expectedSigmoid) { XCTAssertEqual(a, e, accuracy: 1e-7) }
        let expectedLeaky: [Float] = v.map { $0 > 0 ? $0 : 0.2 * $0 }
        XCTAssertEqual(leakyRelu(x, slope: 0.2).scalars, expectedLeaky)
        let expectedClamp: [Float] = v.map { Swift.min(Swift.max($0, -1), 1) }
        XCTAssertEqual(clamp(x, min: -1, max: 1).scalars, expectedClamp)
    }

    // MARK: Shapes and reductions

    func testReductionAndReshapeGradientsMatchFiniteDifferences() {
        let x = randomTensor([2, 3, 4, 2], seed: 5)
        checkFirstOrder("sum(to:)", [x]) { $0[0].sum(to: [1, 3, 1, 1]) }
        checkFirstOrder("mean(axes)", [x]) { $0[0].mean(alongAxes: [0, 2]) }
        checkFirstOrder("broadcast", [randomTensor([3, 1], seed: 6)]) { $0[0].broadcast(to: [2, 3, 4]) }
        checkFirstOrder("reshape", [x]) { square($0[0].reshaped([6, -1])).sum(alongAxes: [1]) }
        checkSecondOrder("per-sample norm", [x]) { sqrt(square($0[0].flattened()).sum(alongAxes: [1])) }
    }

    func testSumToReducesBroadcastDimensions() {
        let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        XCTAssertEqual(x.sum(to: [3, 1]).scalars, [0 + 1 + 2 + 3 + 12 + 13 + 14 + 15, 92, 124])
        XCTAssertEqual(x.sum().scalar, 276)
        XCTAssertEqual(x.sum(to: [2, 1, 4]).scalars, [12, 15, 18, 21, 48, 51, 54, 57])
    }

    func testUpsamplingAndItsAdjointMatchFiniteDifferences() {
        let x = randomTensor([2, 3, 3, 2], seed: 12)
        XCTAssertEqual(upsampleNearest2x(x).shape, [2, 3, 6, 4])
        XCTAssertEqual(upsampleNearest2x(x).scalars[0..<4].map { $0 }, [x.scalars[0], x.scalars[0], x.scalars[1], x.scalars[1]])
        checkFirstOrder("upsample", [x]) { upsampleNearest2x($0[0]) }
        checkSecondOrder("upsample", [x]) { square(upsampleNearest2x($0[0])) }
        checkFirstOrder("sumPool", [randomTensor([1, 2, 4, 6], seed: 13)]) { sumPool2x2($0[0]) }
    }

    // MARK: Linear algebra

    func testMatmulAndLinearGradientsMatchFiniteDifferences() {
        let a = randomTensor([3, 4], seed: 7), b = randomTensor([4, 5], seed: 8), bt = randomTensor([5, 4], seed: 9)
        checkFirstOrder("matmul", [a, b]) { matmul($0[0], $0[1]) }
        checkFirstOrder("matmul Bᵀ", [a, bt]) { matmul($0[0], $0[1], transposeB: true) }
        checkFirstOrder("matmul Aᵀ", [randomTensor([4, 3], seed: 10), b]) { matmul($0[0], $0[1], transposeA: true) }
        checkSecondOrder("linear", [a, bt, randomTensor([5], seed: 11)]) { square(linear($0[0], weight: $0[1], bias: $0[2])) }
    }

    func testReleasingTheGraphGivesTheSameGradientsAndFreesTheSavedTensorsOnTheWay() {
        let w = randomTensor([3, 2, 3, 3], seed: 30), x = randomTensor([2, 2, 5, 5], seed: 31)
        w.requiresGrad = true
        let kept = gradients(of: square(relu(conv2d(x, weight: w, padding: 1))).sum(), wrt: [w])[0]
        weak var hidden: Tensor?
        let y: Tensor = {
            let h = relu(conv2d(x, weight: w, padding: 1))
            hidden = h
            return square(h).sum()
        }()
        XCTAssertNotNil(hidden, "the graph holds its intermediate tensors")
        let released = gradients(of: y, wrt: [w], retainGraph: false)[0]
        XCTAssertNil(hidden, "released with the graph")
        XCTAssertNil(y.gradFn?.backward, "the rule is released")
        XCTAssertEqual(kept.scalars, released.scalars)
    }
}
