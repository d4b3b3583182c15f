// MARK: - The registry of architectures

/// The network pairs (their registry entries: `networks`).
public enum Architecture: String, CaseIterable { case dcgan, cnn, resnet, patchgan, autoencoder, ebgan, began, mlp }

/// What a registry entry builds a generator and a critic from (the part of a GAN's configuration that shapes them).
public struct NetworkOptions {
    /// Image side (ignored by the MLP) and the generator's output channels (the MLP: the data dimension).
    public var imageSize: Int
    public var channels: Int
    /// The critic's input channels: `channels` times PacGAN's packing.
    public var criticChannels: Int
    public var zDim: Int
    /// `ngf` and `ndf`.
    public var generatorWidth: Int
    public var discriminatorWidth: Int
    public var dcgan: DCGANOptions
    /// Layer normalisation in the ResNet critic's blocks.
    public var layerNormD: Bool
    /// The auto-encoder critic's code size.
    public var autoEncoderCode: Int
    /// Whether the critic must be an auto-encoder (the energy-based losses; the MLP builds one then).
    public var autoEncoderCritic: Bool

    public init(imageSize: Int, channels: Int, criticChannels: Int, zDim: Int, generatorWidth: Int, discriminatorWidth: Int,
                dcgan: DCGANOptions, layerNormD: Bool, autoEncoderCode: Int, autoEncoderCritic: Bool) {
        (self.imageSize, self.channels, self.criticChannels, self.zDim) = (imageSize, channels, criticChannels, zDim)
        (self.generatorWidth, self.discriminatorWidth, self.dcgan) = (generatorWidth, discriminatorWidth, dcgan)
        (self.layerNormD, self.autoEncoderCode, self.autoEncoderCritic) = (layerNormD, autoEncoderCode, autoEncoderCritic)
    }
}

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
    package let hasDCGANGenerator: Bool
    /// What its critic gives: scores, an auto-encoder's reconstructions (the energy-based losses), or either.
    package var critic = CriticKind.scores
    /// Builds G and D for `config`, drawing their initial weights from `rng`.
    let build: (NetworkOptions, inout RandomGenerator) throws(SwiftGANError) -> (generator: Module, discriminator: Module)

    /// Checks `imageSize` against `imageSizes`, naming the architecture.
    package func checkImageSize(_ imageSize: Int, arch: Architecture) throws(SwiftGANError) {
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
    package func makeNetworks(_ config: NetworkOptions, rng: inout RandomGenerator) throws(SwiftGANError) -> (Module, Module) {
        try networks.checkImageSize(config.imageSize, arch: self)
        return try networks.build(config, &rng)
    }

    /// The architectures whose critic is (or can be) an auto-encoder, for the energy-based losses.
    package static var withAutoEncoderCritic: [Architecture] { allCases.filter { $0.networks.critic != .scores } }
}
