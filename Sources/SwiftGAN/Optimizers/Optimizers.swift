// MARK: - Optimizer protocol

/// An optimizer that updates parameters in place from their gradients.
public protocol Optimizer: AnyObject {
    /// Applies one update to `parameters` with `gradients` (same order and shapes).
    func step(_ parameters: [Tensor], _ gradients: [Tensor])
    /// Number of updates applied.
    var stepCount: Int { get set }
    /// Per-parameter state tensors for checkpoints, named `<kind>.<parameter index>`.
var namedState: [(String, Tensor)] { get }
    /// The names and shapes of `namedState`, without creating state that does not exist yet.
    var stateInfo: [(name: String, shape: [Int])] { get }
    /// The learning rate.
    var learningRate: Float { get set }
}

// MARK: - Adam

/// Adam as `torch.optim.Adam` (no weight decay, no amsgrad):
/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.
public final class Adam: Optimizer {
    public var learningRate: Float
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

    public func step(_ parameters: [Tensor], _ gradients: [Tensor]) {
        Profile.time(.optimizer) {
            stepCount += 1
            let t = Double(stepCount)
            let bias1 = 1 - pow(Double(beta1), t), bias2 = 1 - pow(Double(beta2), t)
            let stepSize = Float(Double(learningRate) / bias1)
            let bias2Sqrt = Float(bias2.squareRoot())
            let b1 = beta1, b2 = beta2, eps = eps
            for (i, p) in parameters.enumerated() {
                let g = gradients[i].pointer, m = firstMoments[i].pointer, v = secondMoments[i].pointer, w = p.pointer
                parallelChunks(p.count, costPerItem: 8) { r in
                    for j in r {
                        let gj = g[j]
                        m[j] += (gj - m[j]) * (1 - b1)
                        v[j] = v[j] * b2 + (1 - b2) * gj * gj
                        w[j] -= stepSize * m[j] / (v[j].squareRoot() / bias2Sqrt + eps)
                    }
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
    public var learningRate: Float
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

    public func step(_ parameters: [Tensor], _ gradients: [Tensor]) {
        Profile.time(.optimizer) {
            stepCount += 1
            let lr = learningRate, a = alpha, eps = eps
            for (i, p) in parameters.enumerated() {
                let g = gradients[i].pointer, v = squareAverages[i].pointer, w = p.pointer
                for j in 0..<p.count {
                    let gj = g[j]
                    v[j] = v[j] * a + (1 - a) * gj * gj
                    w[j] -= lr * gj / (v[j].squareRoot() + eps)
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
    public var learningRate: Float
    public var stepCount = 0

    public init(learningRate: Float) { self.learningRate = learningRate }

    public func step(_ parameters: [Tensor], _ gradients: [Tensor]) {
        Profile.time(.optimizer) {
            stepCount += 1
            let lr = learningRate
            for (i, p) in parameters.enumerated() {
                let g = gradients[i].pointer, w = p.pointer
                for j in 0..<p.count { w[j] -= lr * g[j] }
            }
        }
    }

    public var namedState: [(String, Tensor)] { [] }
    public var stateInfo: [(name: String, shape: [Int])] { [] }
}

import Glibc
