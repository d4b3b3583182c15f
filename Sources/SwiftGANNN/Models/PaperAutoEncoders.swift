// MARK: - The EBGAN and BEGAN papers' networks

extension NetworkPair {
    /// `ebgan`: `DCGANGenerator` and `EBGANAutoEncoder`, the convolutional auto-encoder of the EBGAN paper
    /// (Zhao et al. 2017, appendix: 64×64 LSUN and CelebA).
    static let ebganPaper = withDCGANGenerator(
        summary: "EBGAN's paper networks: the DCGAN generator; the critic a convolutional auto-encoder, encoder "
            + "Conv(C,ndf,4,2,1) LReLU(0.2), Conv(ndf,2ndf,4,2,1) BN LReLU(0.2), Conv(2ndf,4ndf,4,2,1) BN LReLU(0.2) "
            + "(the code: 4ndf×S/8×S/8), decoder ConvT(4ndf,2ndf,4,2,1) BN LReLU(0.2), ConvT(2ndf,ndf,4,2,1) BN LReLU(0.2), "
            + "ConvT(ndf,C,4,2,1); DCGAN initialisation; for EBGAN and BEGAN; S = 32, 64, 128, 256",
        critic: .autoEncoder
    ) { (c, rng) in
        EBGANAutoEncoder(channels: c.criticChannels, width: c.discriminatorWidth, rng: &rng)
    }

    /// `began`: `BEGANGenerator` and `BEGANAutoEncoder` (Berthelot et al. 2017, figure 1).
    static let beganPaper = NetworkPair(
        summary: "BEGAN's paper networks: G and the decoder Linear(z or h, n·8·8) Unflatten, then per scale 8..S "
            + "[Conv(n,n,3,1,1) ELU]×2 with Upsample×2 (nearest) between scales, Conv(n,C,3,1,1) (no output "
            + "activation); the encoder Conv(C,n,3,1,1) ELU, then per scale S..8 (k = 1, 2, ...) [Conv(kn,kn,3,1,1) "
            + "ELU]×2 and, but at 8×8, Conv(kn,(k+1)n,3,2,1) ELU, Flatten Linear(·,h) (the embedding, no activation); "
            + "n = ngf for G, ndf for D; h = ae_code; PyTorch's default initialisation; for EBGAN and BEGAN; "
            + "S = 32, 64, 128",
        imageSizes: [32, 64, 128], hasDCGANGenerator: false, critic: .autoEncoder
    ) { (c, rng) in
        (BEGANGenerator(imageSize: c.imageSize, channels: c.channels, zDim: c.zDim, width: c.generatorWidth, rng: &rng),
         BEGANAutoEncoder(imageSize: c.imageSize, channels: c.criticChannels, width: c.discriminatorWidth,
                          code: c.autoEncoderCode, rng: &rng))
    }
}

/// The EBGAN paper's auto-encoder critic (its layers: `NetworkPair.ebganPaper.summary`): three stride-2
/// convolutions down, three up; its code, for the pull-away term, is the encoder's feature map.
public final class EBGANAutoEncoder: AutoEncoder {
    public let encoder: Sequential, decoder: Sequential

    public init(channels: Int, width ndf: Int, rng: inout RandomGenerator) {
        encoder = Sequential([
            Conv2d(channels, ndf, kernelSize: 4, stride: 2, padding: 1, rng: &rng), LeakyReLU(0.2),
            Conv2d(ndf, 2 * ndf, kernelSize: 4, stride: 2, padding: 1, bias: false, rng: &rng), BatchNorm2d(2 * ndf),
            LeakyReLU(0.2),
            Conv2d(2 * ndf, 4 * ndf, kernelSize: 4, stride: 2, padding: 1, bias: false, rng: &rng), BatchNorm2d(4 * ndf),
            LeakyReLU(0.2)])
        decoder = Sequential([
            ConvTranspose2d(4 * ndf, 2 * ndf, kernelSize: 4, stride: 2, padding: 1, bias: false, rng: &rng),
            BatchNorm2d(2 * ndf), LeakyReLU(0.2),
            ConvTranspose2d(2 * ndf, ndf, kernelSize: 4, stride: 2, padding: 1, bias: false, rng: &rng),
            BatchNorm2d(ndf), LeakyReLU(0.2),
            ConvTranspose2d(ndf, channels, kernelSize: 4, stride: 2, padding: 1, rng: &rng)])
        dcganInitialize(encoder, rng: &rng)
        dcganInitialize(decoder, rng: &rng)
    }
}

/// The scales of BEGAN's networks: 8×8 up to `imageSize` (32: 3, 64: 4, 128: 5).
private func beganScales(_ imageSize: Int) -> Int {
    var scales = 1, side = 8
    while side < imageSize { side *= 2; scales += 1 }
    return scales
}

/// BEGAN's decoder layers, shared by the generator (from z) and the critic's decoder (from its embedding h).
private func beganDecoderLayers(imageSize: Int, channels: Int, inputs: Int, width n: Int,
                                rng: inout RandomGenerator) -> [Module] {
    var layers: [Module] = [Linear(inputs, n * 8 * 8, rng: &rng), Unflatten([n, 8, 8])]
    let scales = beganScales(imageSize)
    for scale in 0..<scales {
        layers += [Conv2d(n, n, kernelSize: 3, padding: 1, rng: &rng), ELU(),
                   Conv2d(n, n, kernelSize: 3, padding: 1, rng: &rng), ELU()]
        if scale < scales - 1 { layers.append(Upsample2x()) }
    }
    return layers + [Conv2d(n, channels, kernelSize: 3, padding: 1, rng: &rng)]
}

/// BEGAN's generator, `G.main`: the decoder's shape with weights of its own (`NetworkPair.beganPaper.summary`).
/// Input `[N, z]`, output `[N, channels, S, S]` (unbounded, as the paper's).
public final class BEGANGenerator: Module {
    public let main: Sequential

    public init(imageSize: Int, channels: Int, zDim: Int, width ngf: Int, rng: inout RandomGenerator) {
        main = Sequential(beganDecoderLayers(imageSize: imageSize, channels: channels, inputs: zDim, width: ngf, rng: &rng))
    }

    public func callAsFunction(_ z: Tensor) -> Tensor { main(z.reshaped([z.shape[0], -1])) }
    public var children: [(String, Module)] { [("main", main)] }
}

/// BEGAN's auto-encoder critic (`NetworkPair.beganPaper.summary`): the encoder to the embedding h, the decoder
/// back to an image.
public final class BEGANAutoEncoder: AutoEncoder {
    public let encoder: Sequential, decoder: Sequential

    public init(imageSize: Int, channels: Int, width n: Int, code h: Int, rng: inout RandomGenerator) {
        var layers: [Module] = [Conv2d(channels, n, kernelSize: 3, padding: 1, rng: &rng), ELU()]
        let scales = beganScales(imageSize)
        for k in 1...scales {
            layers += [Conv2d(k * n, k * n, kernelSize: 3, padding: 1, rng: &rng), ELU(),
                       Conv2d(k * n, k * n, kernelSize: 3, padding: 1, rng: &rng), ELU()]
            if k < scales { layers += [Conv2d(k * n, (k + 1) * n, kernelSize: 3, stride: 2, padding: 1, rng: &rng), ELU()] }
        }
        encoder = Sequential(layers + [Flatten(), Linear(scales * n * 8 * 8, h, rng: &rng)])
        decoder = Sequential(beganDecoderLayers(imageSize: imageSize, channels: channels, inputs: h, width: n, rng: &rng))
    }
}
