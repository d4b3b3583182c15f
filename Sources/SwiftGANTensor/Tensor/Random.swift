// MARK: - Seeded random generator

/// A seeded xoshiro256** generator with normal and uniform draws.
///
/// Each trainer owns one; there is no global random state. The four state
/// words are exposed so that a checkpoint can restore the stream exactly.
public struct RandomGenerator {
    /// The generator's state words.
    public var state: (UInt64, UInt64, UInt64, UInt64)

    /// Seeds the state with splitmix64 from `seed`.
    public init(seed: UInt64) {
        var s = seed
        func splitmix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A double uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextUnitDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Fills `buffer` with draws from U(low, high).
    public mutating func fillUniform(_ buffer: UnsafeMutablePointer<Float>, count: Int, low: Float = 0, high: Float = 1) {
        if AllocationCount.isCounting { return }  // a tensor being counted has no values
        let span = Double(high - low)
        for i in 0..<count { buffer[i] = Float(Double(low) + span * nextUnitDouble()) }
    }

    /// Fills `buffer` with draws from N(mean, std²) (Box–Muller in double precision).
    public mutating func fillNormal(_ buffer: UnsafeMutablePointer<Float>, count: Int, mean: Float = 0, std: Float = 1) {
        if AllocationCount.isCounting { return }
        var i = 0
        while i < count {
            let u1 = 1.0 - nextUnitDouble()  // (0, 1]
            let u2 = nextUnitDouble()
            let r = (-2.0 * log(u1)).squareRoot()
            let theta = 2.0 * Double.pi * u2
            buffer[i] = mean + std * Float(r * cos(theta))
            if i + 1 < count { buffer[i + 1] = mean + std * Float(r * sin(theta)) }
            i += 2
        }
    }
}

import Glibc
