// MARK: - The "standard CNN" of the spectral-normalisation paper (32×32), as the official relativistic code lays it out

func checkStandardCNNSize(_ imageSize: Int) throws(SwiftGANError) {
    guard imageSize == 32 else { throw SwiftGANError("image_size must be 32 for arch 'cnn', got \(imageSize)") }
}

/// The standard CNN generator: `dense` Linear(z, 8·ngf·4·4), then `model`: ConvT(8ngf, 4ngf, 4,2,1) BN ReLU,
/// ConvT(4ngf, 2ngf, 4,2,1) BN ReLU, ConvT(2ngf, ngf, 4,2,1) BN ReLU, Conv(ngf, C, 3,1,1) Tanh (biases on;
/// with spectral norm, no BN). `[N, z]` → `[N, C, 32, 32]`.
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
    public var namedParameters: [(String, Tensor)] {
        dense.namedParameters.map { ("dense.\($0.0)", $0.1) } + model.namedParameters.map { ("model.\($0.0)", $0.1) }
    }
    public var namedState: [(String, Tensor)] {
        dense.namedState.map { ("dense.\($0.0)", $0.1) } + model.namedState.map { ("model.\($0.0)", $0.1) }
    }
    public func setTraining(_ training: Bool) { model.setTraining(training) }
}

/// The standard CNN critic: `model`: Conv(C, ndf, 3,1,1), Conv(ndf, ndf, 4,2,1), Conv(ndf, 2ndf, 3,1,1),
/// Conv(2ndf, 2ndf, 4,2,1), Conv(2ndf, 4ndf, 3,1,1), Conv(4ndf, 4ndf, 4,2,1), each with BN and
/// LeakyReLU(0.1), then Conv(4ndf, 8ndf, 3,1,1) LeakyReLU(0.1); `dense` Linear(8·ndf·4·4, 1) (registered
/// first, as in the official code). With spectral norm on the convs, no BN. `[N, C, 32, 32]` → `[N]`.
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
    public var namedParameters: [(String, Tensor)] {
        dense.namedParameters.map { ("dense.\($0.0)", $0.1) } + model.namedParameters.map { ("model.\($0.0)", $0.1) }
    }
    public var namedState: [(String, Tensor)] {
        dense.namedState.map { ("dense.\($0.0)", $0.1) } + model.namedState.map { ("model.\($0.0)", $0.1) }
    }
    public func setTraining(_ training: Bool) { model.setTraining(training) }
}
