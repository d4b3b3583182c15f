// MARK: - The "standard CNN" of the spectral-normalisation paper (32×32), as the official relativistic code lays it out

extension NetworkPair {
    /// `cnn`: `StandardCNNGenerator` and `StandardCNNDiscriminator`.
    static let standardCNN = NetworkPair(
        summary: "the standard CNN of the spectral-norm paper (32×32): G: Linear(z,8ngf·4·4), ConvT 4/2/1 8ngf→4ngf→2ngf→ngf "
            + "with BN ReLU, Conv(ngf,C,3,1,1) Tanh; D: Conv 3/1/1 and 4/2/1 pairs ndf→2ndf→4ndf with BN LReLU(0.1), "
            + "Conv(4ndf,8ndf,3,1,1) LReLU(0.1), Linear(8ndf·4·4,1); biases on; options batch_norm_g/_d, spectral_norm_d/_g "
            + "(drops BN)",
        imageSizes: [32], hasDCGANGenerator: false
    ) { (c, rng) throws(SwiftGANError) in
        (StandardCNNGenerator(channels: c.channels, zDim: c.zDim, width: c.generatorWidth, options: c.dcgan, rng: &rng),
         StandardCNNDiscriminator(channels: c.criticChannels, width: c.discriminatorWidth, options: c.dcgan, rng: &rng))
    }
}

/// The standard CNN generator: `dense` Linear(z, 8·ngf·4·4), then `model` (its layers:
/// `NetworkPair.standardCNN.summary`). `[N, z]` → `[N, C, 32, 32]`.
public final class StandardCNNGenerator: Module {
    public let dense: Linear
    public let model: Sequential
    let width: Int

    public init(channels: Int, zDim: Int, width ngf: Int, options: DCGANOptions, rng: inout RandomGenerator) {
        let sn = options.spectralNormG, bn = options.batchNormG && !sn
        width = ngf
        dense = Linear(zDim, 8 * ngf * 16, rng: &rng)
        var layers: [Module] = []
        for (from, to) in [(8 * ngf, 4 * ngf), (4 * ngf, 2 * ngf), (2 * ngf, ngf)] {
            layers.append(ConvTranspose2d(from, to, kernelSize: 4, stride: 2, padding: 1, bias: true, spectralNorm: sn, rng: &rng))
            if bn { layers.append(BatchNorm2d(to)) }
            layers.append(ReLU())
        }
        layers += [Conv2d(ngf, channels, kernelSize: 3, stride: 1, padding: 1, bias: true, spectralNorm: sn, rng: &rng), Tanh()]
        model = Sequential(layers)
        dcganInitialize(model, rng: &rng)
    }

    public func callAsFunction(_ z: Tensor) -> Tensor { model(dense(z).reshaped([z.shape[0], 8 * width, 4, 4])) }
    public var children: [(String, Module)] { [("dense", dense), ("model", model)] }
}

/// The standard CNN critic: `model` then `dense` (its layers: `NetworkPair.standardCNN.summary`; `dense` is
/// registered first, as in the official code). `[N, C, 32, 32]` → `[N]`.
public final class StandardCNNDiscriminator: Module {
    public let dense: Linear
    public let model: Sequential
    let width: Int

    public init(channels: Int, width ndf: Int, options: DCGANOptions, rng: inout RandomGenerator) {
        let sn = options.spectralNormD, bn = options.batchNormD && !sn
        width = ndf
        dense = Linear(8 * ndf * 16, 1, rng: &rng)
        var layers: [Module] = []
        let plan = [(channels, ndf, 3, 1, 1), (ndf, ndf, 4, 2, 1), (ndf, 2 * ndf, 3, 1, 1), (2 * ndf, 2 * ndf, 4, 2, 1),
                    (2 * ndf, 4 * ndf, 3, 1, 1), (4 * ndf, 4 * ndf, 4, 2, 1), (4 * ndf, 8 * ndf, 3, 1, 1)]
        for (i, (from, to, k, s, p)) in plan.enumerated() {
            layers.append(Conv2d(from, to, kernelSize: k, stride: s, padding: p, bias: true, spectralNorm: sn, rng: &rng))
            if bn && i < plan.count - 1 { layers.append(BatchNorm2d(to)) }
            layers.append(LeakyReLU(0.1))
        }
        model = Sequential(layers)
        dcganInitialize(model, rng: &rng)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { dense(model(x).reshaped([x.shape[0], 8 * width * 16])).reshaped([x.shape[0]]) }
    public var children: [(String, Module)] { [("dense", dense), ("model", model)] }
}
