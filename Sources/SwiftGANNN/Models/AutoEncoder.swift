// MARK: - Auto-encoder discriminators (EBGAN, BEGAN)

/// A discriminator that reconstructs its input: `decoder(encoder(x))`. The energy-based objectives
/// score a sample by its reconstruction error and EBGAN's pull-away term uses the codes.
public protocol AutoEncoder: Module {
    var encoder: Sequential { get }
    var decoder: Sequential { get }
}

extension AutoEncoder {
    public func callAsFunction(_ x: Tensor) -> Tensor { decoder(encoder(x)) }
    public var children: [(String, Module)] { [("encoder", encoder), ("decoder", decoder)] }
}

extension NetworkPair {
    /// `autoencoder`: `DCGANGenerator` and `ConvAutoEncoder`.
    static let convAutoEncoder = withDCGANGenerator(
        summary: "the DCGAN generator with an auto-encoder critic for EBGAN and BEGAN: encoder Conv(C,ndf,4,2,1) ReLU "
            + "Flatten Linear(ndf·(S/2)²,h); decoder BN1d(h) ReLU Linear(h,ndf·(S/2)²) BN1d ReLU Unflatten ConvT(ndf,C,4,2,1); "
            + "h = ae_code (32); S = 32, 64, 128, 256",
        critic: .autoEncoder
    ) { (c, rng) in
        ConvAutoEncoder(imageSize: c.imageSize, channels: c.criticChannels, width: c.discriminatorWidth, code: c.autoEncoderCode, rng: &rng)
    }
}

/// The convolutional auto-encoder critic of the classic EBGAN/BEGAN comparisons (its layers:
/// `NetworkPair.convAutoEncoder.summary`), with DCGAN initialisation of the convs and batch norms.
public final class ConvAutoEncoder: AutoEncoder {
    public let encoder: Sequential, decoder: Sequential

    public init(imageSize: Int, channels: Int, width ndf: Int, code h: Int, rng: inout RandomGenerator) {
        let half = imageSize / 2, features = ndf * half * half
        encoder = Sequential([Conv2d(channels, ndf, kernelSize: 4, stride: 2, padding: 1, rng: &rng), ReLU(), Flatten(),
                              Linear(features, h, rng: &rng)])
        decoder = Sequential([BatchNorm1d(h), ReLU(), Linear(h, features, rng: &rng), BatchNorm1d(features), ReLU(),
                              Unflatten([ndf, half, half]),
                              ConvTranspose2d(ndf, channels, kernelSize: 4, stride: 2, padding: 1, rng: &rng)])
        dcganInitialize(encoder, rng: &rng)
        dcganInitialize(decoder, rng: &rng)
    }
}

/// The MLP auto-encoder critic for low-dimensional data (its layers: `NetworkPair.mlp.summary`).
public final class MLPAutoEncoder: AutoEncoder {
    public let encoder: Sequential, decoder: Sequential

    public init(inputs d: Int, hidden ndf: Int, code h: Int, rng: inout RandomGenerator) {
        encoder = Sequential([Linear(d, ndf, rng: &rng), ReLU(), Linear(ndf, h, rng: &rng)])
        decoder = Sequential([ReLU(), Linear(h, ndf, rng: &rng), ReLU(), Linear(ndf, d, rng: &rng)])
    }
}
