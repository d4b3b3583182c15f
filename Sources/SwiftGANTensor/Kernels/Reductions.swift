// MARK: - Row reductions with many accumulators

// A single float accumulator makes a long sum sequential (each add waits on the last) and lets its
// rounding error grow with the row. These sum in 32 lanes (two SIMD16 vectors), then combine the
// lanes and the tail in double precision: vectorised, and accurate to about the rounding of one lane's
// share (adding the lanes in float instead was measurably less accurate and not measurably faster).

/// Σ p[i] for i < n.
@inline(__always)
func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    var a = SIMD16<Float>(), b = SIMD16<Float>()
    var i = 0
    while i + 32 <= n {
        a += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
        b += UnsafeRawPointer(p + i + 16).loadUnaligned(as: SIMD16<Float>.self)
        i += 32
    }
    var total = 0.0
    for l in 0..<16 { total += Double(a[l]) + Double(b[l]) }
    while i < n { total += Double(p[i]); i += 1 }
    return total
}

/// Σ (p[i] − mean)² for i < n.
@inline(__always)
func rowSquaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, mean: Float) -> Double {
    var a = SIMD16<Float>(), b = SIMD16<Float>()
    let m = SIMD16<Float>(repeating: mean)
    var i = 0
    while i + 32 <= n {
        let x = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self) - m
        let y = UnsafeRawPointer(p + i + 16).loadUnaligned(as: SIMD16<Float>.self) - m
        a += x * x
        b += y * y
        i += 32
    }
    var total = 0.0
    for l in 0..<16 { total += Double(a[l]) + Double(b[l]) }
    while i < n { let d = Double(p[i] - mean); total += d * d; i += 1 }
    return total
}

/// (Σ g[i], Σ g[i]·(x[i] − mean)) for i < n.
@inline(__always)
func rowSumAndCenteredDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, mean: Float) -> (Double, Double) {
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), d0 = SIMD16<Float>(), d1 = SIMD16<Float>()
    let m = SIMD16<Float>(repeating: mean)
    var i = 0
    while i + 32 <= n {
        let g0 = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
        let g1 = UnsafeRawPointer(g + i + 16).loadUnaligned(as: SIMD16<Float>.self)
        s0 += g0
        s1 += g1
        d0 += g0 * (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - m)
        d1 += g1 * (UnsafeRawPointer(x + i + 16).loadUnaligned(as: SIMD16<Float>.self) - m)
        i += 32
    }
    var sum = 0.0, dot = 0.0
    for l in 0..<16 { sum += Double(s0[l]) + Double(s1[l]); dot += Double(d0[l]) + Double(d1[l]) }
    while i < n { sum += Double(g[i]); dot += Double(g[i]) * Double(x[i] - mean); i += 1 }
    return (sum, dot)
}
