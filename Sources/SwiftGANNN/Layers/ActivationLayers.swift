// MARK: - Activations (no parameters)

/// `torch.nn.ReLU`.
public final class ReLU: Module {
    public init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor { relu(x) }
}

/// `torch.nn.LeakyReLU(slope)`.
public final class LeakyReLU: Module {
    public let slope: Float
    public init(_ slope: Float = 0.01) { self.slope = slope }
    public func callAsFunction(_ x: Tensor) -> Tensor { leakyRelu(x, slope: slope) }
}

/// `torch.nn.Tanh`.
public final class Tanh: Module {
    public init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor { tanh(x) }
}

/// `torch.nn.Sigmoid`.
public final class Sigmoid: Module {
    public init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor { sigmoid(x) }
}

/// `torch.nn.SELU`.
public final class SELU: Module {
    public init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor { selu(x) }
}

/// `torch.nn.ELU(alpha)`.
public final class ELU: Module {
    public let alpha: Float
    public init(_ alpha: Float = 1) { self.alpha = alpha }
    public func callAsFunction(_ x: Tensor) -> Tensor { elu(x, alpha: alpha) }
}

/// `torch.nn.Upsample(scale_factor=2)` (nearest).
public final class Upsample2x: Module {
    public init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor { upsampleNearest2x(x) }
}

/// 2×2 mean pooling (`torch.nn.AvgPool2d(2)`).
public final class MeanPool2x2: Module {
    public init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor { meanPool2x2(x) }
}

/// `torch.nn.Flatten()`: `[N, ...]` → `[N, rest]`.
public final class Flatten: Module {
    public init() {}
    public func callAsFunction(_ x: Tensor) -> Tensor { x.flattened() }
}

/// `torch.nn.Unflatten(1, shape)`: `[N, F]` → `[N] + shape`.
public final class Unflatten: Module {
    public let shape: [Int]
    public init(_ shape: [Int]) { self.shape = shape }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.reshaped([x.shape[0]] + shape) }
}
