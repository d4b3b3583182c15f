// MARK: - The exponential, eight lanes at a time
//
// ELU's forward pass is eˣ − 1 and its backward pass eˣ on every non-positive element: with glibc's scalar
// expm1f and expf that was 13% of a BEGAN step. These compute both on SIMD8 lanes (AVX2: one register) with
// plain IEEE arithmetic (no fused multiply-add, no table), so every processor gives the same bits.
//
// Method (Cephes' expf): x = k·ln 2 + r with k = round(x / ln 2), |r| ≤ ln 2 / 2, ln 2 split in two parts so that
// r is exact to float precision; eʳ = 1 + r + r²·P(r) with P of degree 5; eˣ = 2ᵏ·eʳ. For eˣ − 1 the same
// r + r²·P(r) is eʳ − 1 without cancellation, and eˣ − 1 = 2ᵏ·(eʳ − 1) + (2ᵏ − 1): for k = 0 that is the polynomial
// itself (relative accuracy near 0), for k < 0 both terms are exact but the last sum. Error: within 1 ulp of the
// true value: measured exhaustively over every float in [−100, 0], at most 0.95 ulp (eˣ − 1) and 0.98 ulp (eˣ) (ExponentialTests).

private let log2e: Float = 1.44269504088896341
private let ln2High: Float = 0.693359375  // 8 significant bits: k·ln2High is exact for |k| < 2¹⁶
private let ln2Low: Float = -2.12194440e-4
/// 1.5·2²³: adding it rounds a float of magnitude < 2²² to an integer, held in the low mantissa bits.
private let roundingShift: Float = 12_582_912
/// Below it eˣ is under the smallest normal float and eˣ − 1 is −1 in float.
private let lowestExponent: Float = -87.33654

/// eʳ − 1 = r + r²·P(r) for |r| ≤ ln 2 / 2 (Cephes' coefficients).
@inline(__always)
private func expm1Reduced(_ r: SIMD8<Float>) -> SIMD8<Float> {
    var p = SIMD8<Float>(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    return r * r * p + r
}

/// x = k·ln 2 + r: (r, 2ᵏ) for x in [lowestExponent, 88].
@inline(__always)
private func reduce(_ x: SIMD8<Float>) -> (r: SIMD8<Float>, scale: SIMD8<Float>) {
    let shifted = x * log2e + roundingShift
    let k = shifted - roundingShift
    let r = x - k * ln2High - k * ln2Low
    // The integer k sits in shifted's low mantissa bits; 2ᵏ is the float of exponent field k + 127.
    let kBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(SIMD8<Float>(repeating: roundingShift), to: SIMD8<Int32>.self)
    let scale = unsafeBitCast((kBits &+ 127) &<< 23, to: SIMD8<Float>.self)
    return (r, scale)
}

/// eˣ − 1 on each lane of non-positive x (NaN stays NaN; below lowestExponent, −1).
@inline(__always)
package func expm1NonPositive(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let clamped = x.replacing(with: lowestExponent, where: x .< lowestExponent)
    let (r, scale) = reduce(clamped)
    return expm1Reduced(r) * scale + (scale - 1)
}

/// eˣ on each lane of non-positive x (NaN stays NaN; below lowestExponent, 0).
@inline(__always)
package func expNonPositive(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let (r, scale) = reduce(x.replacing(with: lowestExponent, where: x .< lowestExponent))
    let e = (expm1Reduced(r) + 1) * scale
    return e.replacing(with: 0, where: x .< lowestExponent)
}

/// ELU scaled (`UnaryOp.elu`) over `range` of x: scale·x for x > 0, scale·α·(eˣ − 1) otherwise.
package func eluForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ range: Range<Int>,
                        alpha: Float, scale: Float) {
    let negativeScale = scale * alpha
    forEachLanes(range) { i, lanes in
        let v = lanes(x + i)
        let positive = v .> 0
        let e = expm1NonPositive(v.replacing(with: 0, where: positive))
        return (v * scale).replacing(with: e * negativeScale, where: .!positive)
    } store: { i, value, count in store(value, out + i, count) }
}

/// ELU's gradient over `range`: g·scale for x > 0, g·scale·α·eˣ otherwise.
package func eluBackward(_ gradInput: UnsafeMutablePointer<Float>, _ gradOutput: UnsafePointer<Float>,
                         _ x: UnsafePointer<Float>, _ range: Range<Int>, alpha: Float, scale: Float) {
    let negativeScale = scale * alpha
    forEachLanes(range) { i, lanes in
        let v = lanes(x + i), g = lanes(gradOutput + i)
        let positive = v .> 0
        let e = expNonPositive(v.replacing(with: 0, where: positive))
        let derivative = SIMD8<Float>(repeating: scale).replacing(with: e * negativeScale, where: .!positive)
        return g * derivative
    } store: { i, value, count in store(value, gradInput + i, count) }
}

// MARK: - Lanes

/// Calls `compute(i, load)` for i = start, start + 8, … over `range`, and `store(i, value, count)` with the lanes
/// that are in range (the last group may be partial: its missing lanes read as 0 and are not stored).
@inline(__always)
private func forEachLanes(_ range: Range<Int>,
                          _ compute: (Int, (UnsafePointer<Float>) -> SIMD8<Float>) -> SIMD8<Float>,
                          store: (Int, SIMD8<Float>, Int) -> Void) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        store(i, compute(i) { UnsafeRawPointer($0).loadUnaligned(as: SIMD8<Float>.self) }, 8)
        i += 8
    }
    let rest = range.upperBound - i
    if rest > 0 {
        let value = compute(i) { p in
            var lanes = SIMD8<Float>(repeating: 0)
            for j in 0..<rest { lanes[j] = p[j] }
            return lanes
        }
        store(i, value, rest)
    }
}

@inline(__always)
private func store(_ value: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    if count == 8 {
        UnsafeMutableRawPointer(p).storeBytes(of: value, as: SIMD8<Float>.self)
    } else {
        for j in 0..<count { p[j] = value[j] }
    }
}
