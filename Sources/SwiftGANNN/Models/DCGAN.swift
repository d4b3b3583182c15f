// MARK: - DCGAN (the relativistic GAN paper's official layout and options)

extension NetworkPair {
    /// The image sides of the DCGAN generator and discriminator.
    static let dcganImageSizes = [32, 64, 128, 256]

    /// A pair whose generator is `config`'s DCGAN generator (sizes 32 to 256, the DCGAN options), with the
    /// critic `discriminator` builds.
    static func withDCGANGenerator(summary: String, critic: CriticKind = .scores,
                                   discriminator: @escaping (NetworkOptions, inout RandomGenerator)
                                       throws(SwiftGANError) -> Module) -> NetworkPair {
        NetworkPair(summary: summary, imageSizes: dcganImageSizes, hasDCGANGenerator: true, critic: critic) { (c, rng) throws(SwiftGANError) in
            (try DCGANGenerator(config: c, rng: &rng), try discriminator(c, &rng))
        }
    }

    /// `dcgan`: `DCGANGenerator` and `DCGANDiscriminator`.
    static let dcgan = withDCGANGenerator(
        summary: "G: ConvT(z,ngf·S/8,4,1,0) BN ReLU, ConvT 4/2/1 halving to ngf with BN ReLU, ConvT(ngf,C,4,2,1) Tanh; "
            + "D: Conv(C,ndf,4,2,1) LReLU(0.2), Conv 4/2/1 doubling with BN LReLU(0.2) to 4×4, Conv(·,1,4,1,0); S = 32, 64, 128, 256; "
            + "options selu (SELU for BN+activation), batch_norm_g/_d, upsample_conv (Upsample×2 + Conv 3/1/1 for ConvT 4/2/1), "
            + "spectral_norm_d/_g (one power iteration per forward, as torch spectral_norm; drops BN)"
    ) { (c, rng) throws(SwiftGANError) in
        try DCGANDiscriminator(imageSize: c.imageSize, channels: c.criticChannels, width: c.discriminatorWidth, options: c.dcgan, rng: &rng)
    }
}

/// Checks a DCGAN network's image side.
private func checkDCGANSize(_ imageSize: Int) throws(SwiftGANError) {
    try NetworkPair.dcgan.checkImageSize(imageSize, arch: .dcgan)
}

/// The options of the official code's DCGAN (`--SELU`, `--NN_conv`, `--spectral`, `--spectral_G`,
/// `--no_batch_norm_G`, `--no_batch_norm_D`).
public struct DCGANOptions: Equatable {
    /// SELU in place of BN + ReLU (G) and BN + LeakyReLU (D).
    public var selu = false
    /// Batch norm in G and D (dropped anyway on a spectrally normalised net, or with SELU).
    public var batchNormG = true, batchNormD = true
    /// Nearest 2× upsampling + Conv 3/1/1 (with bias) in place of each stride-2 ConvTranspose in G.
    public var upsampleConv = false
    /// Spectral normalisation of every conv of D, and of G.
    public var spectralNormD = false, spectralNormG = false

    public init() {}
}

/// Appends the activation block of the official code: SELU, or [BN] + ReLU/LeakyReLU.
private func activation(_ layers: inout [Module], channels: Int, selu: Bool, batchNorm: Bool, leaky: Bool) {
    if selu {
        layers.append(SELU())
    } else {
        if batchNorm { layers.append(BatchNorm2d(channels)) }
        layers.append(leaky ? LeakyReLU(0.2) : ReLU())
    }
}

/// The DCGAN generator, `G.main` (its layers: `NetworkPair.dcgan.summary`; options: `DCGANOptions`).
/// Input `[N, z]`, output `[N, channels, S, S]` in (−1, 1).
public final class DCGANGenerator: Module {
    public let main: Sequential

    /// Builds the generator with DCGAN initialisation: conv weights N(0, 0.02), BN weight N(1, 0.02), BN bias 0.
    public init(imageSize: Int, channels: Int, zDim: Int, width ngf: Int, options: DCGANOptions = DCGANOptions(),
                rng: inout RandomGenerator) throws(SwiftGANError) {
        try checkDCGANSize(imageSize)
        let sn = options.spectralNormG, bn = options.batchNormG && !sn
        var mult = imageSize / 8
        var layers: [Module] = [ConvTranspose2d(zDim, ngf * mult, kernelSize: 4, stride: 1, padding: 0, bias: false,
                                                spectralNorm: sn, rng: &rng)]
        activation(&layers, channels: ngf * mult, selu: options.selu, batchNorm: bn, leaky: false)
        func up(_ from: Int, _ to: Int, _ rng: inout RandomGenerator) -> [Module] {
            options.upsampleConv
                ? [Upsample2x(), Conv2d(from, to, kernelSize: 3, stride: 1, padding: 1, bias: true, spectralNorm: sn, rng: &rng)]
                : [ConvTranspose2d(from, to, kernelSize: 4, stride: 2, padding: 1, bias: false, spectralNorm: sn, rng: &rng)]
        }
        while mult > 1 {
            layers += up(ngf * mult, ngf * mult / 2, &rng)
            activation(&layers, channels: ngf * mult / 2, selu: options.selu, batchNorm: bn, leaky: false)
            mult /= 2
        }
        layers += up(ngf, channels, &rng) + [Tanh()]
        main = Sequential(layers)
        dcganInitialize(main, rng: &rng)
    }

    /// The generator of `config`'s image size, channels, latent size, width `ngf` and DCGAN options.
    convenience init(config c: NetworkOptions, rng: inout RandomGenerator) throws(SwiftGANError) {
        try self.init(imageSize: c.imageSize, channels: c.channels, zDim: c.zDim, width: c.generatorWidth, options: c.dcgan, rng: &rng)
    }

    public func callAsFunction(_ z: Tensor) -> Tensor { main(z.reshaped([z.shape[0], -1, 1, 1])) }
    public var children: [(String, Module)] { [("main", main)] }
}

/// The DCGAN discriminator, `D.main` (its layers: `NetworkPair.dcgan.summary`; options: `DCGANOptions`).
/// Input `[N, channels, S, S]`, output `[N]` (raw critic values).
public final class DCGANDiscriminator: Module {
    public let main: Sequential

    /// Builds the discriminator with DCGAN initialisation.
    public init(imageSize: Int, channels: Int, width ndf: Int, options: DCGANOptions = DCGANOptions(),
                rng: inout RandomGenerator) throws(SwiftGANError) {
        try checkDCGANSize(imageSize)
        let sn = options.spectralNormD, bn = options.batchNormD && !sn
        var layers: [Module] = [Conv2d(channels, ndf, kernelSize: 4, stride: 2, padding: 1, bias: false, spectralNorm: sn, rng: &rng)]
        activation(&layers, channels: ndf, selu: options.selu, batchNorm: false, leaky: true)
        var size = imageSize / 2, mult = 1
        while size > 4 {
            layers.append(Conv2d(ndf * mult, ndf * mult * 2, kernelSize: 4, stride: 2, padding: 1, bias: false,
                                 spectralNorm: sn, rng: &rng))
            activation(&layers, channels: ndf * mult * 2, selu: options.selu, batchNorm: bn, leaky: true)
            size /= 2
            mult *= 2
        }
        layers.append(Conv2d(ndf * mult, 1, kernelSize: 4, stride: 1, padding: 0, bias: false, spectralNorm: sn, rng: &rng))
        main = Sequential(layers)
        dcganInitialize(main, rng: &rng)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { main(x).reshaped([x.shape[0]]) }
    public var children: [(String, Module)] { [("main", main)] }
}

/// DCGAN initialisation: conv weights (`weight_orig` under spectral norm) N(0, 0.02), BN weight
/// N(1, 0.02), BN bias 0; conv biases keep PyTorch's default initialisation.
func dcganInitialize(_ net: Sequential, rng: inout RandomGenerator) {
    for layer in net.layers {
        switch layer {
        case let conv as Conv2d: rng.fillNormal(conv.weight.pointer, count: conv.weight.count, std: 0.02)
        case let conv as ConvTranspose2d: rng.fillNormal(conv.weight.pointer, count: conv.weight.count, std: 0.02)
        case let bn as BatchNorm2d:
            rng.fillNormal(bn.weight.pointer, count: bn.weight.count, mean: 1, std: 0.02)
            bn.bias.fill(0)
        case let bn as BatchNorm1d:
            rng.fillNormal(bn.norm.weight.pointer, count: bn.norm.weight.count, mean: 1, std: 0.02)
            bn.norm.bias.fill(0)
        default: break
        }
    }
}
