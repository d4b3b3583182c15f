// MARK: - MLP pair for low-dimensional toy data

/// A multilayer perceptron `main` (its layers: `NetworkPair.mlp.summary`) with PyTorch's default Linear
/// initialisation: the generator (z → data) and, with one output, the critic (data → one logit per sample)
/// for 2-D mixtures of Gaussians.
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

    public var children: [(String, Module)] { [("main", main)] }
}

// MARK: - Registry entry

extension NetworkPair {
    /// `mlp`: two `MLP`s, or with EBGAN/BEGAN an `MLP` and an `MLPAutoEncoder`.
    static let mlp = NetworkPair(
        summary: "G: Linear(z,ngf) ReLU, Linear(ngf,ngf) ReLU ×2, Linear(ngf,channels); "
            + "D: Linear(channels,ndf) ReLU, Linear(ndf,ndf) ReLU ×2, Linear(ndf,1); for low-dimensional data (2-D toys); "
            + "with EBGAN/BEGAN the critic is an auto-encoder Linear(channels,ndf) ReLU Linear(ndf,h) | ReLU Linear(h,ndf) "
            + "ReLU Linear(ndf,channels)",
        imageSizes: nil, hasDCGANGenerator: false, critic: .either
    ) { (c, rng) throws(SwiftGANError) in
        let g = MLP(inputs: c.zDim, hidden: c.generatorWidth, outputs: c.channels, squeezeOutput: false, rng: &rng)
        let d: Module = c.autoEncoderCritic
            ? MLPAutoEncoder(inputs: c.criticChannels, hidden: c.discriminatorWidth, code: c.autoEncoderCode, rng: &rng)
            : MLP(inputs: c.criticChannels, hidden: c.discriminatorWidth, outputs: 1, squeezeOutput: true, rng: &rng)
        return (g, d)
    }
}
