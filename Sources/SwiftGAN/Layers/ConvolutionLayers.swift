// MARK: - Conv2d

/// `torch.nn.Conv2d`: weight `[out, in, k, k]`, optional bias `[out]`.
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int

    /// Initialised as PyTorch does by default: U(−1/√fan_in, 1/√fan_in), fan_in = in·k².
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, rng: inout RandomGenerator) {
        let bound = 1 / Float(inChannels * kernelSize * kernelSize).squareRoot()
        weight = parameter(.uniform([outChannels, inChannels, kernelSize, kernelSize], low: -bound, high: bound, rng: &rng))
        self.bias = bias ? parameter(.uniform([outChannels], low: -bound, high: bound, rng: &rng)) : nil
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = conv2d(x, weight: weight, stride: stride, padding: padding)
        return bias.map { y + $0.reshaped([1, -1, 1, 1]) } ?? y
    }

    public var namedParameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
}

// MARK: - ConvTranspose2d

/// `torch.nn.ConvTranspose2d`: weight `[in, out, k, k]`, optional bias `[out]`.
public final class ConvTranspose2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int

    /// Initialised as PyTorch does by default (fan_in from the weight's dimension 1: out·k²).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, rng: inout RandomGenerator) {
        let bound = 1 / Float(outChannels * kernelSize * kernelSize).squareRoot()
        weight = parameter(.uniform([inChannels, outChannels, kernelSize, kernelSize], low: -bound, high: bound, rng: &rng))
        self.bias = bias ? parameter(.uniform([outChannels], low: -bound, high: bound, rng: &rng)) : nil
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = convTranspose2d(x, weight: weight, stride: stride, padding: padding)
        return bias.map { y + $0.reshaped([1, -1, 1, 1]) } ?? y
    }

    public var namedParameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
}

// MARK: - Linear

/// `torch.nn.Linear`: weight `[out, in]`, bias `[out]`.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    /// Initialised as PyTorch does by default: U(−1/√in, 1/√in).
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RandomGenerator) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = parameter(.uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: &rng))
        self.bias = bias ? parameter(.uniform([outFeatures], low: -bound, high: bound, rng: &rng)) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x.flattened(), weight: weight, bias: bias) }

    public var namedParameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
}
