// MARK: - Convolution layers

/// What Conv2d and ConvTranspose2d share: a weight (`weight_orig` under spectral normalisation), an
/// optional bias `[out]`, stride and padding. Subclasses supply the convolution itself.
public class ConvolutionLayer: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int
    /// With spectral normalisation the parameter is `weight_orig` and the layer uses `weight / σ`.
    public let spectralNorm: SpectralNorm?
    public private(set) var isTraining = true

    /// Weight and bias drawn as PyTorch does by default: U(−1/√fan_in, 1/√fan_in).
    init(weightShape: [Int], outChannels: Int, fanIn: Int, stride: Int, padding: Int, bias: Bool, spectralNorm: Bool,
         outputsOnSecondAxis: Bool, rng: inout RandomGenerator) {
        let bound = 1 / Float(fanIn).squareRoot()
        weight = parameter(.uniform(weightShape, low: -bound, high: bound, rng: &rng))
        self.bias = bias ? parameter(.uniform([outChannels], low: -bound, high: bound, rng: &rng)) : nil
        self.stride = stride
        self.padding = padding
        self.spectralNorm = spectralNorm
            ? SpectralNorm(weightShape: weightShape, outputsOnSecondAxis: outputsOnSecondAxis, rng: &rng) : nil
    }

    /// Whether running the layer again costs little for the memory its output holds: a convolution of at most
    /// 64 multiply-adds per output value (on an image's 3 channels with a 4×4 kernel: 48), without state that
    /// the forward pass changes (spectral normalisation's power iteration), so a second run gives the same values.
    var isCheapToRecompute: Bool {
        spectralNorm == nil && self is Conv2d && weight.shape[1] * weight.shape[2] * weight.shape[3] <= 64
    }

    /// The convolution with an effective weight `w`.
    func convolve(_ x: Tensor, _ w: Tensor) -> Tensor { preconditionFailure("implemented by subclasses") }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = convolve(x, spectralNorm.map { $0.normalized(weight, training: isTraining) } ?? weight)
        guard let bias else { return y }
        // Only the addition reads the convolution's output (the convolution's rule reads its input and weight, the
        // addition's nothing), so the sum is written over it: one activation fewer at the pass's peak.
        y.isScratch = y.hasUniqueStorage()
        return y + bias.reshaped([1, -1, 1, 1])
    }

    /// PyTorch's order: `weight`, `bias`; with spectral norm `bias`, `weight_orig` (then buffers `weight_u`, `weight_v`).
    public var ownParameters: [(String, Tensor)] {
        let b = bias.map { [("bias", $0)] } ?? []
        return spectralNorm == nil ? [("weight", weight)] + b : b + [("weight_orig", weight)]
    }

    public var ownBuffers: [(String, Tensor)] { spectralNorm.map { [("weight_u", $0.u), ("weight_v", $0.v)] } ?? [] }
    /// A training pass with spectral norm normalises the weight with the vectors its previous pass's power
    /// iteration left.
    public var ownPassesReadEarlierPasses: Bool { spectralNorm != nil }
    public func setOwnTraining(_ training: Bool) { isTraining = training }
}

/// `torch.nn.Conv2d`: weight `[out, in, k, k]`, optional bias `[out]`, fan_in = in·k².
public final class Conv2d: ConvolutionLayer {
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, spectralNorm: Bool = false, rng: inout RandomGenerator) {
        super.init(weightShape: [outChannels, inChannels, kernelSize, kernelSize], outChannels: outChannels,
                   fanIn: inChannels * kernelSize * kernelSize, stride: stride, padding: padding, bias: bias,
                   spectralNorm: spectralNorm, outputsOnSecondAxis: false, rng: &rng)
    }

    override func convolve(_ x: Tensor, _ w: Tensor) -> Tensor { conv2d(x, weight: w, stride: stride, padding: padding) }
}

/// `torch.nn.ConvTranspose2d`: weight `[in, out, k, k]`, optional bias `[out]`; fan_in from the weight's
/// dimension 1 (out·k²) as PyTorch computes it; spectral norm over the output channels (dimension 1).
public final class ConvTranspose2d: ConvolutionLayer {
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, spectralNorm: Bool = false, rng: inout RandomGenerator) {
        super.init(weightShape: [inChannels, outChannels, kernelSize, kernelSize], outChannels: outChannels,
                   fanIn: outChannels * kernelSize * kernelSize, stride: stride, padding: padding, bias: bias,
                   spectralNorm: spectralNorm, outputsOnSecondAxis: true, rng: &rng)
    }

    override func convolve(_ x: Tensor, _ w: Tensor) -> Tensor { convTranspose2d(x, weight: w, stride: stride, padding: padding) }
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

    public var ownParameters: [(String, Tensor)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
}
