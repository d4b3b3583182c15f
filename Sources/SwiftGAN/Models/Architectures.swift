// MARK: - The registry of architectures

/// What a pair's critic gives: a score per sample (the losses that compare scores), an auto-encoder's
/// reconstructions (EBGAN and BEGAN, which score by reconstruction energy), or either, by the loss (the MLP).
public enum CriticKind { case scores, autoEncoder, either }

/// One architecture of the registry: how it is described, which image sizes it takes and how it builds
/// its generator and discriminator. Each model file defines its own entry; `Architecture.networks` lists
/// them, and `swiftgan list`, the configuration's checks and the trainer read them there.
public struct NetworkPair {
    /// The layer sequences of G and D and the options that shape them (`swiftgan list`).
    public let summary: String
    /// The image sides it takes; nil for the MLP, which takes points of any dimension.
    public let imageSizes: [Int]?
    /// Whether the DCGAN options `selu` and `upsample_conv` (of its DCGAN generator) apply.
    let hasDCGANGenerator: Bool
    /// What its critic gives: scores, an auto-encoder's reconstructions (the energy-based losses), or either.
    var critic = CriticKind.scores
    /// Builds G and D for `config`, drawing their initial weights from `rng`.
    let build: (GANConfig, inout RandomGenerator) throws(SwiftGANError) -> (generator: Module, discriminator: Module)

    /// Checks `imageSize` against `imageSizes`, naming the architecture.
    func checkImageSize(_ imageSize: Int, arch: Architecture) throws(SwiftGANError) {
        guard let sizes = imageSizes, !sizes.contains(imageSize) else { return }
        let allowed = sizes.count == 1 ? "\(sizes[0])" : sizes.count == 2 ? "\(sizes[0]) or \(sizes[1])" : "one of \(sizes)"
        throw SwiftGANError("image_size must be \(allowed) for arch '\(arch.rawValue)', got \(imageSize)")
    }
}

extension Architecture {
    /// This architecture's entry of the registry.
    public var networks: NetworkPair {
        switch self {
        case .dcgan: return .dcgan
        case .cnn: return .standardCNN
        case .resnet: return .resNet
        case .patchgan: return .patchGAN
        case .autoencoder: return .convAutoEncoder
        case .ebgan: return .ebganPaper
        case .began: return .beganPaper
        case .mlp: return .mlp
        }
    }

    /// Builds the generator and discriminator for `config` (its image size checked first).
    ///
    /// - Throws: `SwiftGANError` for a size the architecture does not take.
    func makeNetworks(_ config: GANConfig, rng: inout RandomGenerator) throws(SwiftGANError) -> (Module, Module) {
        try networks.checkImageSize(config.imageSize, arch: self)
        return try networks.build(config, &rng)
    }

    /// The architectures whose critic is (or can be) an auto-encoder, for the energy-based losses.
    static var withAutoEncoderCritic: [Architecture] { allCases.filter { $0.networks.critic != .scores } }
}
