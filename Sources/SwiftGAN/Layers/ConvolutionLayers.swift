// MARK: - Conv2d

/// `torch.nn.Conv2d`: weight `[out, in, k, k]`, optional bias `[out]`.
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int
    /// With spectral normalisation the parameter is `weight_orig` and the layer uses `weight / σ`.
    public let spectralNorm: SpectralNorm?
    public private(set) var isTraining = true

    /// Initialised as PyTorch does by default: U(−1/√fan_in, 1/√fan_in), fan_in = in·k².
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, spectralNorm: Bool = false, rng: inout RandomGenerator) {
        let bound = 1 / Float(inChannels * kernelSize * kernelSize).squareRoot()
        weight = parameter(.uniform([outChannels, inChannels, kernelSize, kernelSize], low: -bound, high: bound, rng: &rng))
        self.bias = bias ? parameter(.uniform([outChannels], low: -bound, high: bound, rng: &rng)) : nil
        self.stride = stride
        self.padding = padding
        self.spectralNorm = spectralNorm ? SpectralNorm(weightShape: weight.shape, outputsOnSecondAxis: false, rng: &rng) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let w = spectralNorm.map { $0.normalized(weight, training: isTraining) } ?? weight
        let y = conv2d(x, weight: w, stride: stride, padding: padding)
        return bias.map { y + $0.reshaped([1, -1, 1, 1]) } ?? y
    }

    public var namedParameters: [(String, Tensor)] { convolutionParameters(weight, bias, spectralNorm) }
    public var namedBuffers: [(String, Tensor)] { spectralNorm.map { [("weight_u", $0.u), ("weight_v", $0.v)] } ?? [] }
    public func setTraining(_ training: Bool) { isTraining = training }
}

/// PyTorch's parameter order: `weight`, `bias`; with spectral norm `bias`, `weight_orig`.
func convolutionParameters(_ weight: Tensor, _ bias: Tensor?, _ spectralNorm: SpectralNorm?) -> [(String, Tensor)] {
    let b = bias.map { [("bias", $0)] } ?? []
    return spectralNorm == nil ? [("weight", weight)] + b : b + [("weight_orig", weight)]
}

// MARK: - ConvTranspose2d

/// `torch.nn.ConvTranspose2d`: weight `[in, out, k, k]`, optional bias `[out]`.
public final class ConvTranspose2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int
    /// With spectral normalisation (over the output channels, dimension 1) the parameter is `weight_orig`.
    public let spectralNorm: SpectralNorm?
    public private(set) var isTraining = true

    /// Initialised as PyTorch does by default (fan_in from the weight's dimension 1: out·k²).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, spectralNorm: Bool = false, rng: inout RandomGenerator) {
        let bound = 1 / Float(outChannels * kernelSize * kernelSize).squareRoot()
        weight = parameter(.uniform([inChannels, outChannels, kernelSize, kernelSize], low: -bound, high: bound, rng: &rng))
        self.bias = bias ? parameter(.uniform([outChannels], low: -bound, high: bound, rng: &rng)) : nil
        self.stride = stride
        self.padding = padding
        self.spectralNorm = spectralNorm ? SpectralNorm(weightShape: weight.shape, outputsOnSecondAxis: true, rng: &rng) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let w = spectralNorm.map { $0.normalized(weight, training: isTraining) } ?? weight
        let y = convTranspose2d(x, weight: w, stride: stride, padding: padding)
        return bias.map { y + $0.reshaped([1, -1, 1, 1]) } ?? y
    }

    public var namedParameters: [(String, Tensor)] { convolutionParameters(weight, bias, spectralNorm) }
    public var namedBuffers: [(String, Tensor)] { spectralNorm.map { [("weight_u", $0.u), ("weight_v", $0.v)] } ?? [] }
    public func setTraining(_ training: Bool) { isTraining = training }
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
