// MARK: - Optimizer protocol

/// An optimizer that updates parameters in place from their gradients.
public protocol Optimizer: AnyObject {
    /// Applies one update to `parameters` with `gradients` (same order and shapes), at the learning rate times
    /// `factor` (a schedule's).
    func step(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float)
    /// The index of the first parameter whose next update (`step` with these gradients) would give a
    /// non-finite weight or optimizer state, or nil when every value stays finite: the same arithmetic as
    /// `step`, read-only, so a non-finite gradient or an overflowing update can be refused before anything is
    /// written.
    func firstNonFiniteUpdate(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) -> Int?
    /// The first half of `step`: writes the parameters of the next update and leaves the optimizer's state and
    /// `stepCount` as they are. `commitState` with the same gradients and factor is the second half: the two give
    /// `step`'s values bit for bit (the same arithmetic, each writing its share). Between them the state is the
    /// previous update's, so an update found wrong later is undone by putting back the parameters alone.
    func stepParameters(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float)
    /// The second half of `step` (see `stepParameters`): writes the state and counts the update.
    func commitState(_ gradients: [Tensor], learningRateFactor factor: Float)
    /// Number of updates applied.
    var stepCount: Int { get set }
    /// Per-parameter state tensors for checkpoints, named `<kind>.<parameter index>`.
var namedState: [(String, Tensor)] { get }
    /// The names and shapes of `namedState`, without creating state that does not exist yet.
    var stateInfo: [(name: String, shape: [Int])] { get }
    /// The learning rate (set once, when the optimizer is made; a schedule scales it per step).
    var learningRate: Float { get }
}

public extension Optimizer {
    /// Makes the per-parameter state (`namedState`: Adam's moments, RMSprop's averages) if it does not exist yet,
    /// as the first update would.
    func makeState() { _ = namedState }
}

// MARK: - Adam

/// Adam as `torch.optim.Adam` (no weight decay, no amsgrad):
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.
public final class Adam: Optimizer {
    public let learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float
    public var stepCount = 0
    let shapes: [[Int]]
    /// The moment estimates, zeros until first used (as PyTorch, whose state appears at the first step):
    /// a process that only samples from a trained G never holds them.
    lazy var firstMoments: [Tensor] = shapes.map { .zeros($0) }
    lazy var secondMoments: [Tensor] = shapes.map { .zeros($0) }

    public init(parameters: [Tensor], learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        shapes = parameters.map(\.shape)
    }

    /// The constants of update number `t`: β₁, β₂, ε, lr/(1−β₁ᵗ) and √(1−β₂ᵗ).
    private func constants(_ t: Int, _ factor: Float) -> (b1: Float, b2: Float, eps: Float, stepSize: Float, bias2Sqrt: Float) {
        let bias1 = 1 - pow(Double(beta1), Double(t)), bias2 = 1 - pow(Double(beta2), Double(t))
        return (beta1, beta2, eps, Float(Double(learningRate * factor) / bias1), Float(bias2.squareRoot()))
    }

    /// One element's new moments (m, v).
    @inline(__always)
    private static func moments(_ g: Float, _ m: Float, _ v: Float,
                                _ c: (b1: Float, b2: Float, eps: Float, stepSize: Float, bias2Sqrt: Float)) -> (Float, Float) {
        (m + (g - m) * (1 - c.b1), v * c.b2 + (1 - c.b2) * g * g)
    }

    /// One element's update: the new (m, v, w).
    @inline(__always)
    private static func update(_ g: Float, _ m: Float, _ v: Float, _ w: Float,
                               _ c: (b1: Float, b2: Float, eps: Float, stepSize: Float, bias2Sqrt: Float)) -> (Float, Float, Float) {
        let (m2, v2) = moments(g, m, v, c)
        return (m2, v2, w - c.stepSize * m2 / (v2.squareRoot() / c.bias2Sqrt + c.eps))
    }

    public func step(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) {
        Profile.time(.optimizer) {
            stepCount += 1
            let c = constants(stepCount, factor)
            for (i, p) in parameters.enumerated() {
                let g = gradients[i].pointer, m = firstMoments[i].pointer, v = secondMoments[i].pointer, w = p.pointer
                parallelChunks(p.count, costPerItem: 8) { r in
                    for j in r { (m[j], v[j], w[j]) = Adam.update(g[j], m[j], v[j], w[j], c) }
                }
            }
        }
    }

    public func stepParameters(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) {
        Profile.time(.optimizer) {
            let c = constants(stepCount + 1, factor)
            for (i, p) in parameters.enumerated() {
                let g = gradients[i].pointer, m = firstMoments[i].pointer, v = secondMoments[i].pointer, w = p.pointer
                parallelChunks(p.count, costPerItem: 8) { r in
                    for j in r { w[j] = Adam.update(g[j], m[j], v[j], w[j], c).2 }
                }
            }
        }
    }

    public func commitState(_ gradients: [Tensor], learningRateFactor factor: Float) {
        Profile.time(.optimizer) {
            stepCount += 1
            let c = constants(stepCount, factor)
            for (i, gradient) in gradients.enumerated() {
                let g = gradient.pointer, m = firstMoments[i].pointer, v = secondMoments[i].pointer
                parallelChunks(gradient.count, costPerItem: 4) { r in
                    for j in r { (m[j], v[j]) = Adam.moments(g[j], m[j], v[j], c) }
                }
            }
        }
    }

    public func firstNonFiniteUpdate(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) -> Int? {
        Profile.time(.optimizer) {
            let c = constants(stepCount + 1, factor)
            return parameters.indices.first { i in
                let g = gradients[i].pointer, m = firstMoments[i].pointer, v = secondMoments[i].pointer, w = parameters[i].pointer
                return !allFinite(parameters[i].count, costPerItem: 8) { r in
                    var largest: UInt32 = 0
                    for j in r {
                        let (m2, v2, w2) = Adam.update(g[j], m[j], v[j], w[j], c)
                        largest = max(largest, exponentBits(m2), exponentBits(v2), exponentBits(w2))
                    }
                    return largest
                }
            }
        }
    }

    public var namedState: [(String, Tensor)] { Array(zip(stateInfo.map(\.name), firstMoments + secondMoments)) }
    public var stateInfo: [(name: String, shape: [Int])] {
        shapes.enumerated().map { ("exp_avg.\($0.offset)", $0.element) } + shapes.enumerated().map { ("exp_avg_sq.\($0.offset)", $0.element) }
    }
}

// MARK: - RMSprop

/// RMSprop as `torch.optim.RMSprop` (no momentum, not centered):
/// `v ← αv + (1−α)g²`, `p ← p − lr · g / (√v + ε)`.
public final class RMSprop: Optimizer {
    public let learningRate: Float
    public let alpha: Float, eps: Float
    public var stepCount = 0
    let shapes: [[Int]]
    /// Zeros until first used (see `Adam.firstMoments`).
    lazy var squareAverages: [Tensor] = shapes.map { .zeros($0) }

    public init(parameters: [Tensor], learningRate: Float, alpha: Float = 0.99, eps: Float = 1e-8) {
        self.learningRate = learningRate
        self.alpha = alpha
        self.eps = eps
        shapes = parameters.map(\.shape)
    }

    /// One element's new square average.
    @inline(__always)
    private static func average(_ g: Float, _ v: Float, alpha: Float) -> Float { v * alpha + (1 - alpha) * g * g }

    /// One element's update: the new (v, w).
    @inline(__always)
    private static func update(_ g: Float, _ v: Float, _ w: Float, lr: Float, alpha: Float, eps: Float) -> (Float, Float) {
        let v2 = average(g, v, alpha: alpha)
        return (v2, w - lr * g / (v2.squareRoot() + eps))
    }

    public func step(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) {
        Profile.time(.optimizer) {
            stepCount += 1
            let lr = learningRate * factor, a = alpha, eps = eps
            for (i, p) in parameters.enumerated() {
                let g = gradients[i].pointer, v = squareAverages[i].pointer, w = p.pointer
                for j in 0..<p.count { (v[j], w[j]) = RMSprop.update(g[j], v[j], w[j], lr: lr, alpha: a, eps: eps) }
            }
        }
    }

    public func stepParameters(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) {
        Profile.time(.optimizer) {
            let lr = learningRate * factor, a = alpha, eps = eps
            for (i, p) in parameters.enumerated() {
                let g = gradients[i].pointer, v = squareAverages[i].pointer, w = p.pointer
                for j in 0..<p.count { w[j] = RMSprop.update(g[j], v[j], w[j], lr: lr, alpha: a, eps: eps).1 }
            }
        }
    }

    public func commitState(_ gradients: [Tensor], learningRateFactor factor: Float) {
        Profile.time(.optimizer) {
            stepCount += 1
            let a = alpha
            for (i, gradient) in gradients.enumerated() {
                let g = gradient.pointer, v = squareAverages[i].pointer
                for j in 0..<gradient.count { v[j] = RMSprop.average(g[j], v[j], alpha: a) }
            }
        }
    }

    public func firstNonFiniteUpdate(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) -> Int? {
        Profile.time(.optimizer) {
            let lr = learningRate * factor, a = alpha, eps = eps
            return parameters.indices.first { i in
                let g = gradients[i].pointer, v = squareAverages[i].pointer, w = parameters[i].pointer
                return !allFinite(parameters[i].count, costPerItem: 4) { r in
                    var largest: UInt32 = 0
                    for j in r {
                        let (v2, w2) = RMSprop.update(g[j], v[j], w[j], lr: lr, alpha: a, eps: eps)
                        largest = max(largest, exponentBits(v2), exponentBits(w2))
                    }
                    return largest
                }
            }
        }
    }

    public var namedState: [(String, Tensor)] { Array(zip(stateInfo.map(\.name), squareAverages)) }
    public var stateInfo: [(name: String, shape: [Int])] { shapes.enumerated().map { ("square_avg.\($0.offset)", $0.element) } }
}

// MARK: - SGD

/// Plain stochastic gradient descent: `p ← p − lr · g`.
public final class SGD: Optimizer {
    public let learningRate: Float
    public var stepCount = 0

    public init(learningRate: Float) { self.learningRate = learningRate }

    public func step(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) {
        Profile.time(.optimizer) {
            stepCount += 1
            let lr = learningRate * factor
            for (i, p) in parameters.enumerated() {
                let g = gradients[i].pointer, w = p.pointer
                for j in 0..<p.count { w[j] -= lr * g[j] }
            }
        }
    }

    public func stepParameters(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) {
        let count = stepCount
        step(parameters, gradients, learningRateFactor: factor)  // SGD has no state
        stepCount = count
    }

    public func commitState(_ gradients: [Tensor], learningRateFactor factor: Float) { stepCount += 1 }

    public func firstNonFiniteUpdate(_ parameters: [Tensor], _ gradients: [Tensor], learningRateFactor factor: Float) -> Int? {
        Profile.time(.optimizer) {
            let lr = learningRate * factor
            return parameters.indices.first { i in
                let g = gradients[i].pointer, w = parameters[i].pointer
                return !allFinite(parameters[i].count, costPerItem: 2) { r in
                    var largest: UInt32 = 0
                    for j in r { largest = max(largest, exponentBits(w[j] - lr * g[j])) }
                    return largest
                }
            }
        }
    }

    public var namedState: [(String, Tensor)] { [] }
    public var stateInfo: [(name: String, shape: [Int])] { [] }
}

/// The exponent bits of `x`: all ones (`nonFiniteExponent`) exactly when x is NaN or ±inf. The largest over
/// many values is an integer maximum, which vectorises (a float sum would not: its order is fixed).
@inline(__always) func exponentBits(_ x: Float) -> UInt32 { x.bitPattern & 0x7f80_0000 }
let nonFiniteExponent: UInt32 = 0x7f80_0000

/// Whether `largestExponent(range)` (the largest `exponentBits` of the values it covers) is below
/// `nonFiniteExponent` for every chunk of `0..<count`, the chunks run on the thread pool.
@inline(__always)
package func allFinite(_ count: Int, costPerItem: Int, _ largestExponent: (Range<Int>) -> UInt32) -> Bool {
    let chunks = parallelChunkCount(count, costPerItem: costPerItem)
    var largest = [UInt32](repeating: 0, count: chunks)
    largest.withUnsafeMutableBufferPointer { l in
        parallelFor(chunks) { c in l[c] = largestExponent((count * c / chunks)..<(count * (c + 1) / chunks)) }
    }
    return largest.allSatisfy { $0 < nonFiniteExponent }
}

/// Whether `count` floats at `values` are all finite.
package func allFinite(_ values: UnsafePointer<Float>, count: Int) -> Bool {
    allFinite(count, costPerItem: 1) { r in
        var largest: UInt32 = 0
        for j in r { largest = max(largest, exponentBits(values[j])) }
        return largest
    }
}

import Glibc
