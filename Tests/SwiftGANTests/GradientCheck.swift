import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

// MARK: - Finite-difference helpers

/// Random values in [-1, 1] kept at least `margin` away from 0 (kinks of relu, abs, ...).
func randomTensor(_ shape: [Int], seed: UInt64, margin: Float = 0, low: Float = -1, high: Float = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let t = Tensor.uniform(shape, low: low, high: high, rng: &rng)
    if margin > 0 {
        for i in 0..<t.count where Swift.abs(t.pointer[i]) < margin { t.pointer[i] += t.pointer[i] < 0 ? -margin : margin }
    }
    return t
}

/// `Σ f(inputs) · w` for a fixed random `w`, so that no gradient cancels by symmetry.
func weightedScalar(_ f: @escaping ([Tensor]) -> Tensor, seed: UInt64 = 99) -> ([Tensor]) -> Tensor {
    var cached: Tensor?
    return { inputs in
        let y = f(inputs)
        if cached == nil || cached!.shape != y.shape { cached = randomTensor(y.shape, seed: seed) }
        return (y * cached!).sum()
    }
}

/// Central finite differences of the scalar `f` with respect to every element of every input.
func numericGradients(_ f: ([Tensor]) -> Tensor, _ inputs: [Tensor], eps: Float) -> [[Float]] {
    inputs.map { x in
        (0..<x.count).map { i in
            let saved = x.pointer[i]
            x.pointer[i] = saved + eps
            let plus = Double(f(inputs).scalar)
            x.pointer[i] = saved - eps
            let minus = Double(f(inputs).scalar)
            x.pointer[i] = saved
            return Float((plus - minus) / (2 * Double(eps)))
        }
    }
}

func assertClose(_ analytic: [Float], _ numeric: [Float], rtol: Float, atol: Float, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(analytic.count, numeric.count, what, file: file, line: line)
    let scale = max(numeric.map { Swift.abs($0) }.max() ?? 0, 1e-3)
    for (i, (a, n)) in zip(analytic, numeric).enumerated() where Swift.abs(a - n) > atol * scale + rtol * Swift.abs(n) {
        XCTFail("\(what): element \(i): analytic \(a) vs numeric \(n)", file: file, line: line)
        return
    }
}

/// Checks first-order gradients of `Σ f(inputs)·w` against finite differences.
func checkFirstOrder(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 2e-3,
                     file: StaticString = #filePath, line: UInt = #line, _ f: @escaping ([Tensor]) -> Tensor) {
    let scalar = weightedScalar(f)
    inputs.forEach { $0.requiresGrad = true }
    let analytic = gradients(of: scalar(inputs), wrt: inputs)
    let numeric = numericGradients(scalar, inputs, eps: eps)
    for i in inputs.indices {
        assertClose(analytic[i].scalars, numeric[i], rtol: rtol, atol: atol, "\(name) ∂/∂input\(i)", file: file, line: line)
    }
}

/// Checks second-order gradients: with `h(inputs) = Σ_i ⟨∇_i L, v_i⟩` built by
/// `gradients(createGraph: true)`, compares ∇h with finite differences of h.
func checkSecondOrder(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, rtol: Float = 3e-2, atol: Float = 3e-3,
                      file: StaticString = #filePath, line: UInt = #line, _ f: @escaping ([Tensor]) -> Tensor) {
    let scalar = weightedScalar(f)
    inputs.forEach { $0.requiresGrad = true }
    let directions = inputs.enumerated().map { randomTensor($0.element.shape, seed: 1000 + UInt64($0.offset)) }
    let h: ([Tensor]) -> Tensor = { xs in
        let enabled = GradMode.isEnabled
        let grads = GradMode.with(enabled: true) { gradients(of: scalar(xs), wrt: xs, createGraph: enabled) }
        return zip(grads, directions).map { ($0 * $1).sum() }.reduce(Tensor(scalar: 0), +)
    }
    let analytic = gradients(of: h(inputs), wrt: inputs)
    let numeric = numericGradients(h, inputs, eps: eps)
    for i in inputs.indices {
        assertClose(analytic[i].scalars, numeric[i], rtol: rtol, atol: atol, "\(name) ∂²/∂input\(i)", file: file, line: line)
    }
}
