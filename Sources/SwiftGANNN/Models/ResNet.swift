// MARK: - The ResNet pair of the WGAN-GP paper (32: CIFAR-10 layout; 64: the 64×64 layout)

/// A residual block, `shortcut + main`, resampling up (nearest ×2 before each conv), down (2×2 mean pool
/// after each conv) or not at all:
/// up:   main = [BN] ReLU Up Conv3(in→out) [BN] ReLU Conv3(out→out); shortcut = Up Conv1(in→out)
/// down: main = [N] ReLU Conv3(in→in) [N] ReLU Conv3(in→out) Pool; shortcut = Conv1(in→out) Pool
/// none: main = [N] ReLU Conv3(in→out) [N] ReLU Conv3(out→out); shortcut = identity, or Conv1 when in ≠ out
/// `first` (the critic's first block): main = Conv3(in→out) ReLU Conv3(out→out) Pool; shortcut = Pool Conv1(in→out).
/// N is batch norm in the generator and layer norm (or nothing) in the critic. Parameters: `main.*`, `shortcut.*`.
public final class ResidualBlock: Module {
    public enum Resample { case up, down, none, first }
    public let main: Sequential
    public let shortcut: Sequential

    init(_ input: Int, _ output: Int, resample: Resample, norm: (Int) -> Module?, rng: inout RandomGenerator) {
        func conv(_ a: Int, _ b: Int, _ k: Int, _ rng: inout RandomGenerator) -> Module {
            Conv2d(a, b, kernelSize: k, stride: 1, padding: k / 2, rng: &rng)
        }
        func pre(_ c: Int) -> [Module] { (norm(c).map { [$0] } ?? []) + [ReLU()] }
        switch resample {
        case .up:
            main = Sequential(pre(input) + [Upsample2x(), conv(input, output, 3, &rng)] + pre(output) + [conv(output, output, 3, &rng)])
            shortcut = Sequential([Upsample2x(), conv(input, output, 1, &rng)])
        case .down:
            main = Sequential(pre(input) + [conv(input, input, 3, &rng)] + pre(input) + [conv(input, output, 3, &rng), MeanPool2x2()])
            shortcut = Sequential([conv(input, output, 1, &rng), MeanPool2x2()])
        case .none:
            main = Sequential(pre(input) + [conv(input, output, 3, &rng)] + pre(output) + [conv(output, output, 3, &rng)])
            shortcut = Sequential(input == output ? [] : [conv(input, output, 1, &rng)])
        case .first:
            main = Sequential([conv(input, output, 3, &rng), ReLU(), conv(output, output, 3, &rng), MeanPool2x2()])
            shortcut = Sequential([MeanPool2x2(), conv(input, output, 1, &rng)])
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { shortcut(x) + main(x) }
    public var children: [(String, Module)] { [("main", main), ("shortcut", shortcut)] }
}

extension NetworkPair {
    /// `resnet`: `ResNetGenerator` and `ResNetDiscriminator`.
    static let resNet = NetworkPair(
        summary: "the ResNet pair of the WGAN-GP paper (32: CIFAR layout; 64: the 64×64 layout): G: Linear(z,4·4·w), "
            + "residual up-blocks (BN ReLU Up Conv3 BN ReLU Conv3 + Up Conv1; 32: three ngf→ngf; 64: 8ngf→8ngf→4ngf→2ngf→ngf), "
            + "BN ReLU Conv3 Tanh; D: residual down-blocks (32: optimized first block, down, two plain, ReLU, spatial mean, "
            + "Linear; 64: Conv3, four down ndf→2ndf→4ndf→8ndf→8ndf, Linear); option layer_norm_d (GroupNorm(1,C) in the "
            + "critic's blocks)",
        imageSizes: [32, 64], hasDCGANGenerator: false
    ) { (c, rng) throws(SwiftGANError) in
        (try ResNetGenerator(imageSize: c.imageSize, channels: c.channels, zDim: c.zDim, width: c.generatorWidth, rng: &rng),
         try ResNetDiscriminator(imageSize: c.imageSize, channels: c.criticChannels, width: c.discriminatorWidth,
                                 layerNorm: c.layerNormD, rng: &rng))
    }
}

private func checkResNetSize(_ imageSize: Int) throws(SwiftGANError) {
    try NetworkPair.resNet.checkImageSize(imageSize, arch: .resnet)
}

/// The ResNet generator: `dense`, `blocks`, `out` (their layers: `NetworkPair.resNet.summary`), with the
/// WGAN-GP code's initialisation.
public final class ResNetGenerator: Module {
    public let dense: Linear
    public let blocks: Sequential, out: Sequential
    let startWidth: Int

    public init(imageSize: Int, channels: Int, zDim: Int, width ngf: Int, rng: inout RandomGenerator) throws(SwiftGANError) {
        try checkResNetSize(imageSize)
        let widths = imageSize == 32 ? [ngf, ngf, ngf, ngf] : [8 * ngf, 8 * ngf, 4 * ngf, 2 * ngf, ngf]
        startWidth = widths[0]
        dense = Linear(zDim, 16 * widths[0], rng: &rng)
        var list: [Module] = []
        for i in 0..<(widths.count - 1) {
            list.append(ResidualBlock(widths[i], widths[i + 1], resample: .up, norm: { BatchNorm2d($0) }, rng: &rng))
        }
        blocks = Sequential(list)
        out = Sequential([BatchNorm2d(ngf), ReLU(), Conv2d(ngf, channels, kernelSize: 3, padding: 1, rng: &rng), Tanh()])
        wganInitialize(blocks, he: true, rng: &rng)
        wganInitialize(Sequential([dense, out]), he: false, rng: &rng)
    }

    public func callAsFunction(_ z: Tensor) -> Tensor { out(blocks(dense(z).reshaped([z.shape[0], startWidth, 4, 4]))) }
    public var children: [(String, Module)] { [("dense", dense), ("blocks", blocks), ("out", out)] }
}

/// The ResNet critic: `blocks` then `dense` (their layers: `NetworkPair.resNet.summary`); with `layerNorm`,
/// GroupNorm(1, C) before each ReLU of the blocks.
public final class ResNetDiscriminator: Module {
    public let blocks: Sequential
    public let dense: Linear
    let imageSize: Int

    public init(imageSize: Int, channels: Int, width ndf: Int, layerNorm: Bool, rng: inout RandomGenerator) throws(SwiftGANError) {
        try checkResNetSize(imageSize)
        self.imageSize = imageSize
        let norm: (Int) -> Module? = { layerNorm ? LayerNorm2d($0) : nil }
        if imageSize == 32 {
            blocks = Sequential([ResidualBlock(channels, ndf, resample: .first, norm: norm, rng: &rng),
                                 ResidualBlock(ndf, ndf, resample: .down, norm: norm, rng: &rng),
                                 ResidualBlock(ndf, ndf, resample: .none, norm: norm, rng: &rng),
                                 ResidualBlock(ndf, ndf, resample: .none, norm: norm, rng: &rng), ReLU()])
            dense = Linear(ndf, 1, rng: &rng)
        } else {
            var list: [Module] = [Conv2d(channels, ndf, kernelSize: 3, padding: 1, rng: &rng)]
            for (a, b) in [(ndf, 2 * ndf), (2 * ndf, 4 * ndf), (4 * ndf, 8 * ndf), (8 * ndf, 8 * ndf)] {
                list.append(ResidualBlock(a, b, resample: .down, norm: norm, rng: &rng))
            }
            blocks = Sequential(list)
            dense = Linear(16 * 8 * ndf, 1, rng: &rng)
        }
        wganInitialize(blocks, he: true, rng: &rng)
        wganInitialize(Sequential([dense]), he: false, rng: &rng)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = blocks(x)
        let features = imageSize == 32 ? h.mean(alongAxes: [2, 3]).reshaped([x.shape[0], -1]) : h.flattened()
        return dense(features).reshaped([x.shape[0]])
    }
    public var children: [(String, Module)] { [("blocks", blocks), ("dense", dense)] }
}

/// The WGAN-GP code's initialisation (tflib): weights uniform with standard deviation σ = √(4/(fan_in + fan_out))
/// ("He", in the residual blocks) or √(2/(fan_in + fan_out)) (Glorot, the dense layers and the output conv),
/// fan_in = in·k², fan_out = out·k²; biases 0; batch norm and layer norm at weight 1, bias 0.
func wganInitialize(_ net: Sequential, he: Bool, rng: inout RandomGenerator) {
    func fill(_ w: Tensor, fanIn: Int, fanOut: Int) {
        let bound = (Float(he ? 4 : 2) / Float(fanIn + fanOut)).squareRoot() * Float(3).squareRoot()
        rng.fillUniform(w.pointer, count: w.count, low: -bound, high: bound)
    }
    for layer in net.layers {
        switch layer {
        case let conv as Conv2d:
            let k = conv.weight.shape[2] * conv.weight.shape[3]
            fill(conv.weight, fanIn: conv.weight.shape[1] * k, fanOut: conv.weight.shape[0] * k)
            conv.bias?.fill(0)
        case let linear as Linear:
            fill(linear.weight, fanIn: linear.weight.shape[1], fanOut: linear.weight.shape[0])
            linear.bias?.fill(0)
        case let block as ResidualBlock:
            wganInitialize(block.main, he: he, rng: &rng)
            wganInitialize(block.shortcut, he: he, rng: &rng)
        default: break
        }
    }
}
