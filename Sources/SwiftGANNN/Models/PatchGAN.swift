// MARK: - PatchGAN discriminator (pix2pix's NLayerDiscriminator, 3 layers, instance norm)

extension NetworkPair {
    /// `patchgan`: `DCGANGenerator` and `PatchGANDiscriminator`.
    static let patchGAN = withDCGANGenerator(
        summary: "the DCGAN generator with a PatchGAN critic (pix2pix, 3 layers): Conv(C,ndf,4,2,1) LReLU(0.2), "
            + "Conv 4/2/1 ndf→2ndf→4ndf and Conv(4ndf,8ndf,4,1,1) each with InstanceNorm LReLU(0.2), Conv(8ndf,1,4,1,1), "
            + "every conv with a bias; scores every patch (2×2 at 32 px, 6×6 at 64) and the losses average over them; "
            + "S = 32, 64, 128, 256"
    ) { (c, rng) in
        PatchGANDiscriminator(channels: c.criticChannels, width: c.discriminatorWidth, spectralNorm: c.dcgan.spectralNormD, rng: &rng)
    }
}

/// The PatchGAN critic, `D.model` (its layers: `NetworkPair.patchGAN.summary`), weights N(0, 0.02). The
/// output `[N·P]` holds every patch's critic value.
public final class PatchGANDiscriminator: Module {
    public let model: Sequential

    public init(channels: Int, width ndf: Int, spectralNorm sn: Bool, rng: inout RandomGenerator) {
        var layers: [Module] = [Conv2d(channels, ndf, kernelSize: 4, stride: 2, padding: 1, spectralNorm: sn, rng: &rng),
                                LeakyReLU(0.2)]
        for (from, to, stride) in [(ndf, 2 * ndf, 2), (2 * ndf, 4 * ndf, 2), (4 * ndf, 8 * ndf, 1)] {
            layers += [Conv2d(from, to, kernelSize: 4, stride: stride, padding: 1, spectralNorm: sn, rng: &rng),
                       InstanceNorm2d(), LeakyReLU(0.2)]
        }
        layers.append(Conv2d(8 * ndf, 1, kernelSize: 4, stride: 1, padding: 1, spectralNorm: sn, rng: &rng))
        model = Sequential(layers)
        dcganInitialize(model, rng: &rng)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { model(x).reshaped([-1]) }
    public var children: [(String, Module)] { [("model", model)] }
}
