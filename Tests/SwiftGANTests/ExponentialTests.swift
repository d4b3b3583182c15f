import Glibc
import XCTest
@testable import SwiftGANAutodiff
@testable import SwiftGANTensor

/// The eight-lane eˣ and eˣ − 1 of ELU (Exponential.swift) against double precision, in float ulps of the true
/// value. The bound is 1 ulp: an exhaustive run over all 1,120,403,457 floats in [−100, 0] (release build, Zen 3)
/// measured at most 0.946 ulp for eˣ − 1 and 0.982 ulp for eˣ; here a sample of them is checked (every 4,099th bit
/// pattern, about 273,000 values, in a debug build).
final class ExponentialTests: XCTestCase {
    /// Float ulps between `value` and the exact `truth`.
    private func ulps(_ value: Float, _ truth: Double) -> Double {
        abs(Double(value) - truth) / Double(Float(truth).ulp)
    }

    func testExpm1AndExpOfNonPositiveFloatsAreWithinOneUlp() {
        var worstExpm1 = 0.0, worstExp = 0.0, checked = 0
        var bits = (-0.0 as Float).bitPattern
        let last = (-100 as Float).bitPattern
        while bits <= last {
            let x = Float(bitPattern: bits)
            let lanes = SIMD8<Float>(repeating: x)
            let m = expm1NonPositive(lanes), e = expNonPositive(lanes)
            XCTAssertEqual(m, SIMD8(repeating: m[0]), "lanes differ at \(x)")
            worstExpm1 = max(worstExpm1, ulps(m[0], Glibc.expm1(Double(x))))
            let exact = Glibc.exp(Double(x))
            if exact >= Double(Float.leastNormalMagnitude) {
                worstExp = max(worstExp, ulps(e[0], exact))
            } else {
                XCTAssertLessThanOrEqual(e[0], Float.leastNormalMagnitude, "eˣ below the normal range at \(x)")
            }
            checked += 1
            bits += 4_099
        }
        XCTAssertGreaterThan(checked, 273_000)
        XCTAssertLessThanOrEqual(worstExpm1, 1, "eˣ − 1")
        XCTAssertLessThanOrEqual(worstExp, 1, "eˣ")
    }

    func testSpecialValues() {
        let x = SIMD8<Float>(-.infinity, -200, .nan, -0.0, -1e-30, -1e-8, -88, -1)
        let m = expm1NonPositive(x), e = expNonPositive(x)
        XCTAssertEqual(m[0], -1); XCTAssertEqual(e[0], 0)
        XCTAssertEqual(m[1], -1); XCTAssertEqual(e[1], 0)
        XCTAssertTrue(m[2].isNaN); XCTAssertTrue(e[2].isNaN)
        XCTAssertEqual(m[3], 0); XCTAssertEqual(e[3], 1)
        XCTAssertEqual(m[4], -1e-30); XCTAssertEqual(e[4], 1)  // eˣ − 1 keeps its relative accuracy near 0
        XCTAssertEqual(m[5], -1e-8); XCTAssertEqual(e[5], 1)
        XCTAssertEqual(m[6], -1); XCTAssertEqual(e[6], 0)
        XCTAssertEqual(Double(m[7]), Glibc.expm1(-1.0), accuracy: Double((0.63 as Float).ulp))
    }

    /// The ELU kernels: the lanes path (whole groups of 8 and a partial tail) equals the one-element path, and
    /// both are ELU and its derivative (SELU's constants, so that α and the scale are not 1).
    func testELUKernelsMatchTheirDefinition() {
        let count = 8 * 5 + 3
        var rng = RandomGenerator(seed: 7)
        let x = Tensor.normal([count], rng: &rng) * 3
        x.pointer[0] = .nan; x.pointer[1] = 0; x.pointer[2] = -.infinity; x.pointer[count - 1] = -20
        let g = Tensor.normal([count], rng: &rng)
        let y = Tensor(uninitialized: [count]), gx = Tensor(uninitialized: [count])
        guard case .elu(let alpha, let scale) = UnaryOp.selu else { return XCTFail("SELU is an ELU") }
        unaryForward(y.pointer, x.pointer, count, .selu)
        unaryBackward(gx.pointer, g.pointer, x.pointer, y.pointer, count, .selu)
        for i in 0..<count {
            let v = x.pointer[i]
            let exactY = v > 0 ? Double(scale) * Double(v) : Double(scale) * Double(alpha) * Glibc.expm1(Double(v))
            let exactD = v > 0 ? Double(scale) : Double(scale) * Double(alpha) * Glibc.exp(Double(v))
            XCTAssertEqual(y.pointer[i].bitPattern, UnaryOp.selu.apply(v).bitPattern, "forward lanes vs one element at \(v)")
            XCTAssertEqual(gx.pointer[i].bitPattern, (g.pointer[i] * UnaryOp.selu.derivative(v, y.pointer[i])).bitPattern,
                           "backward lanes vs one element at \(v)")
            if v.isNaN {
                XCTAssertTrue(y.pointer[i].isNaN && gx.pointer[i].isNaN)
                continue
            }
            // Two roundings after the exponential's 1 ulp (the products by α·scale and by g): 3 ulps of the result.
            XCTAssertEqual(Double(y.pointer[i]), exactY, accuracy: 3 * Double(Float(abs(exactY)).ulp) + 1e-45, "ELU at \(v)")
            let exactG = Double(g.pointer[i]) * exactD
            XCTAssertEqual(Double(gx.pointer[i]), exactG, accuracy: 3 * Double(Float(abs(exactG)).ulp) + 1e-45,
                           "ELU′ at \(v)")
        }
    }
}
