// MARK: - PatchGAN discriminator (pix2pix's NLayerDiscriminator, 3 layers, instance norm)

/// The PatchGAN critic, `D.model`: Conv(C, ndf, 4,2,1) LeakyReLU(0.2), Conv(ndf, 2ndf, 4,2,1) IN LReLU,
/// Conv(2ndf, 4ndf, 4,2,1) IN LReLU, Conv(4ndf, 8ndf, 4,1,1) IN LReLU, Conv(8ndf, 1, 4,1,1); every conv
/// with a bias (as with instance norm in pix2pix/CycleGAN), weights N(0, 0.02). It scores overlapping
/// patches: the output `[N·P]` holds every patch's critic value (P = 2×2 at 32 pixels, 6×6 at 64), and the
/// losses average over all of them. Pairs with the DCGAN generator.
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
    public var namedParameters: [(String, Tensor)] { model.namedParameters.map { ("model.\($0.0)", $0.1) } }
    public var namedState: [(String, Tensor)] { model.namedState.map { ("model.\($0.0)", $0.1) } }
    public func setTraining(_ training: Bool) { model.setTraining(training) }
}
