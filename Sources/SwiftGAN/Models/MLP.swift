// MARK: - MLP pair for low-dimensional toy data

/// A multilayer perceptron `main`: Linear(in, h) ReLU, Linear(h, h) ReLU, Linear(h, h) ReLU, Linear(h, out),
/// with PyTorch's default Linear initialisation. Used as the generator (z → data) and, with
/// `out = 1`, as the critic (data → one logit per sample) for 2-D mixtures of Gaussians.
public final class MLP: Module {
    public let main: Sequential
    let squeezeOutput: Bool

    /// - Parameters:
    ///   - squeezeOutput: return `[N]` instead of `[N, 1]` (the critic).
    public init(inputs: Int, hidden: Int, outputs: Int, squeezeOutput: Bool, rng: inout RandomGenerator) {
        main = Sequential([Linear(inputs, hidden, rng: &rng), ReLU(), Linear(hidden, hidden, rng: &rng), ReLU(),
                           Linear(hidden, hidden, rng: &rng), ReLU(), Linear(hidden, outputs, rng: &rng)])
        self.squeezeOutput = squeezeOutput
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = main(x.flattened())
        return squeezeOutput ? y.reshaped([x.shape[0]]) : y
    }

    public var namedParameters: [(String, Tensor)] { main.namedParameters.map { ("main.\($0.0)", $0.1) } }
    public var namedState: [(String, Tensor)] { main.namedState.map { ("main.\($0.0)", $0.1) } }
}

// MARK: - Architecture factory

/// Builds the generator and discriminator that `config.architecture` names.
///
/// - Throws: `SwiftGANError` for a size the architecture does not support.
func makeNetworks(_ config: GANConfig, rng: inout RandomGenerator) throws(SwiftGANError) -> (Module, Module) {
    switch config.architecture {
    case .cnn:
        try checkStandardCNNSize(config.imageSize)
        let g = StandardCNNGenerator(channels: config.channels, zDim: config.zDim, width: config.generatorWidth,
                                     options: config.dcgan, rng: &rng)
        let d = StandardCNNDiscriminator(channels: config.channels, width: config.discriminatorWidth, options: config.dcgan, rng: &rng)
        return (g, d)
    case .resnet:
        let g = try ResNetGenerator(imageSize: config.imageSize, channels: config.channels, zDim: config.zDim,
                                    width: config.generatorWidth, rng: &rng)
        let d = try ResNetDiscriminator(imageSize: config.imageSize, channels: config.channels,
                                        width: config.discriminatorWidth, layerNorm: config.layerNormD, rng: &rng)
        return (g, d)
    case .patchgan:
        try checkDCGANSize(config.imageSize)
        let g = try DCGANGenerator(imageSize: config.imageSize, channels: config.channels, zDim: config.zDim,
                                   width: config.generatorWidth, options: config.dcgan, rng: &rng)
        let d = PatchGANDiscriminator(channels: config.channels, width: config.discriminatorWidth,
                                      spectralNorm: config.dcgan.spectralNormD, rng: &rng)
        return (g, d)
    case .autoencoder:
        let g = try DCGANGenerator(imageSize: config.imageSize, channels: config.channels, zDim: config.zDim,
                                   width: config.generatorWidth, options: config.dcgan, rng: &rng)
        let d = ConvAutoEncoder(imageSize: config.imageSize, channels: config.channels, width: config.discriminatorWidth,
                                code: config.autoEncoderCode, rng: &rng)
        return (g, d)
    case .mlp:
        let g = MLP(inputs: config.zDim, hidden: config.generatorWidth, outputs: config.channels, squeezeOutput: false, rng: &rng)
        let d: Module = config.loss.objective.isEnergyBased
            ? MLPAutoEncoder(inputs: config.channels, hidden: config.discriminatorWidth, code: config.autoEncoderCode, rng: &rng)
            : MLP(inputs: config.channels, hidden: config.discriminatorWidth, outputs: 1, squeezeOutput: true, rng: &rng)
        return (g, d)
    case .dcgan:
        let g = try DCGANGenerator(imageSize: config.imageSize, channels: config.channels, zDim: config.zDim,
                                   width: config.generatorWidth, options: config.dcgan, rng: &rng)
        let d = try DCGANDiscriminator(imageSize: config.imageSize, channels: config.channels,
                                       width: config.discriminatorWidth, options: config.dcgan, rng: &rng)
        return (g, d)
    }
}
