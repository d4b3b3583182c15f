// MARK: - Feature networks: one trained here, or Inception-v3 with given weights

/// The feature networks the metrics compute in.
public enum FeatureArchitecture: String, CaseIterable {
    /// `FeatureNetwork`, trained by SwiftGAN on a labelled dataset (`FeatureTrainer`).
    case small
    /// `InceptionV3`, FID's network, with the weights of pytorch-fid's file (`InceptionFeatures`).
    case inceptionV3 = "inception-v3"
}

/// What defines a feature network and its training: parsed from "key=value" lines by its option table.
public struct FeatureConfig: Equatable, Configurable {
    public var network = FeatureArchitecture.small
    public var channels = 1
    public var imageSize = 32
    public var classes = 10
    public var width = 16
    public var learningRate: Float = 1e-3
    public var seed: UInt64 = 1

    public init() {}

    public static let options: [Option<FeatureConfig>] = [
        .choice("network", \.network, what: "feature network", plural: "feature networks",
                "small: trained by SwiftGAN (the options below); inception-v3: FID's Inception-v3, weights given, "
                + "images of 1 or 3 channels and any size (the options below are ignored)"),
        .integer("channels", \.channels, 1...4, "image channels"),
        .integer("image_size", \.imageSize, 8...1024, "image side"),
        .integer("classes", \.classes, 2...100_000, "number of classes"),
        .integer("width", \.width, 1...512, "channels of the first convolution (the features have 4·width values)"),
        .number("lr", \.learningRate, .positive, "Adam's learning rate"),
        .seed("seed", \.seed, "seeds the initial weights"),
    ]
}

/// What a features handle computes with: its tensors by name, features (or logits) of images, and training
/// steps when it is trained here.
public protocol FeatureExtractor: AnyObject {
    var config: FeatureConfig { get }
    var featureCount: Int { get }
    var namedState: [(String, Tensor)] { get }
    /// Features ([N, featureCount]) or logits of images [N, C, H, W], written into `out`.
    func evaluate(_ images: Tensor, logits: Bool, into out: UnsafeMutableBufferPointer<Float>) throws(SwiftGANError)
    func trainStep(images: Tensor, labels: [Int]) throws(SwiftGANError) -> (loss: Float, accuracy: Float)
}

/// The feature extractor `config` describes.
public func makeFeatureExtractor(_ config: FeatureConfig) throws(SwiftGANError) -> FeatureExtractor {
    switch config.network {
    case .small: return try FeatureTrainer(config: config)
    case .inceptionV3: return try InceptionFeatures(config: config)
    }
}

/// FID's Inception-v3 (`InceptionV3`) as a feature extractor: its 2048 pool features of images of 1 or 3
/// channels and any size, `batch` images at a time; it has no logits and is not trained here.
public final class InceptionFeatures: FeatureExtractor {
    public let config: FeatureConfig
    public let network: InceptionV3
    /// Images per forward pass: 32 hold ≈ 1 GB of activations at 299×299.
    public var batch = 32

    /// - Throws: `.outOfMemory` when the network's weights (≈ 87 MB) would not fit.
    public init(config: FeatureConfig) throws(SwiftGANError) {
        self.config = config
        let (_, bytes) = try AllocationCount.counting { () throws(SwiftGANError) -> InceptionV3 in InceptionV3() }
        try MemoryBudget.require(bytes, for: "building Inception-v3 (\(MemoryBudget.format(bytes)) of weights)")
        network = InceptionV3()
    }

    public var featureCount: Int { network.featureCount }
    public var namedState: [(String, Tensor)] { network.namedState }

    public func evaluate(_ images: Tensor, logits: Bool, into out: UnsafeMutableBufferPointer<Float>) throws(SwiftGANError) {
        guard !logits else { throw SwiftGANError("Inception-v3 gives features only here (no logits: its classifier is not loaded)") }
        guard images.shape.count == 4, [1, 3].contains(images.shape[1]), images.shape[2] >= 1, images.shape[3] >= 1 else {
            throw SwiftGANError("images must have shape [N, 1 or 3, H, W], got \(images.shape)")
        }
        let n = images.shape[0], width = featureCount
        guard out.count == n * width else {
            throw SwiftGANError("out must hold \(n) × \(width) = \(n * width) floats, got \(out.count)")
        }
        for start in stride(from: 0, to: n, by: batch) {
            let count = min(batch, n - start)
            let result = network.features(images.samples(start..<start + count))
            (out.baseAddress! + start * width).update(from: result.pointer, count: count * width)
        }
    }

    public func trainStep(images: Tensor, labels: [Int]) throws(SwiftGANError) -> (loss: Float, accuracy: Float) {
        throw SwiftGANError("Inception-v3 is not trained by SwiftGAN: its weights are pytorch-fid's (load them)")
    }
}

/// A feature network with its Adam optimizer: trains on labelled batches, and gives features or logits of
/// images in evaluation mode (batch-norm running statistics).
public final class FeatureTrainer: FeatureExtractor {
    public let config: FeatureConfig
    public let network: FeatureNetwork
    let optimizer: Adam
    let parameters: [Tensor]
    /// The batch-norm running statistics, listed once (a step restores them when it refuses an update).
    let buffers: [Tensor]

    /// - Throws: `.outOfMemory` when the network, its gradients and Adam's moments would not fit (checked first).
    public init(config: FeatureConfig) throws(SwiftGANError) {
        self.config = config
        var rng = RandomGenerator(seed: config.seed), counted = rng
        let (_, bytes) = try AllocationCount.counting { () throws(SwiftGANError) -> FeatureNetwork in
            FeatureNetwork(channels: config.channels, width: config.width, classes: config.classes, rng: &counted)
        }
        try MemoryBudget.require(4 * bytes, for: "building the feature network (\(MemoryBudget.format(bytes)) of "
                                 + "parameters and buffers, 4 copies with gradients and Adam's moments)")
        network = FeatureNetwork(channels: config.channels, width: config.width, classes: config.classes, rng: &rng)
        parameters = network.namedParameters.map(\.1)
        buffers = network.namedBuffers.map(\.1)
        optimizer = Adam(parameters: parameters, learningRate: config.learningRate)
    }

    /// The shape of one image.
    public var imageShape: [Int] { [config.channels, config.imageSize, config.imageSize] }
    public var featureCount: Int { network.featureCount }
    public var namedState: [(String, Tensor)] { network.namedState }

    public func evaluate(_ images: Tensor, logits: Bool, into out: UnsafeMutableBufferPointer<Float>) throws(SwiftGANError) {
        try evaluate(images, logits: logits, into: out, batch: 256)
    }

    private func checkImages(_ images: Tensor, atLeast: Int) throws(SwiftGANError) {
        guard images.shape.count == 4, Array(images.shape.dropFirst()) == imageShape else {
            throw SwiftGANError("images must have shape [N, \(imageShape.map(String.init).joined(separator: ", "))], got \(images.shape)")
        }
        guard images.shape[0] >= atLeast else {
            throw SwiftGANError("images must hold at least \(atLeast) image\(atLeast == 1 ? "" : "s"), got \(images.shape[0])")
        }
    }

    /// One Adam step on a labelled batch; returns the batch's mean cross-entropy and accuracy (before the step).
    /// A non-finite loss or gradient is refused (a `diverged` error) and nothing is applied.
    public func trainStep(images: Tensor, labels: [Int]) throws(SwiftGANError) -> (loss: Float, accuracy: Float) {
        try checkImages(images, atLeast: 2)
        guard labels.count == images.shape[0] else {
            throw SwiftGANError("labels must hold one label per image (\(images.shape[0])), got \(labels.count)")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= config.classes }) {
            throw SwiftGANError("labels must be in [0, \(config.classes)), got \(bad)")
        }
        let saved = buffers.map { $0.copy() }
        network.setTraining(true)
        let logits = network(images)
        let loss = crossEntropy(logits: logits, labels: labels)
        let grads = gradients(of: loss, wrt: parameters)
        // A non-finite gradient makes a non-finite update, which `firstNonFiniteUpdate` finds.
        if !loss.scalar.isFinite || optimizer.firstNonFiniteUpdate(parameters, grads, learningRateFactor: 1) != nil {
            for (b, old) in zip(buffers, saved) { b.assign(from: old.pointer) }
            throw SwiftGANError("the feature network's loss or gradients are not finite (step \(optimizer.stepCount + 1)); "
                                + "nothing was applied: try a lower lr", kind: .diverged)
        }
        optimizer.step(parameters, grads, learningRateFactor: 1)
        return (loss.scalar, accuracy(logits, labels))
    }

    private func accuracy(_ logits: Tensor, _ labels: [Int]) -> Float {
        let k = config.classes
        var right = 0
        for (i, label) in labels.enumerated() {
            var best = 0
            for j in 1..<k where logits.pointer[i * k + j] > logits.pointer[i * k + best] { best = j }
            if best == label { right += 1 }
        }
        return Float(right) / Float(labels.count)
    }

    /// Features ([N, 4·width]) or logits ([N, classes]) of images [N, C, S, S] (N ≥ 0: no images give no rows), in
    /// evaluation mode, written into `out`, `batch` images at a time.
    public func evaluate(_ images: Tensor, logits: Bool, into out: UnsafeMutableBufferPointer<Float>,
                         batch: Int) throws(SwiftGANError) {
        try checkImages(images, atLeast: 0)
        let width = logits ? config.classes : network.featureCount
        let n = images.shape[0]
        guard out.count == n * width else {
            throw SwiftGANError("out must hold \(n) × \(width) = \(n * width) floats, got \(out.count)")
        }
        guard n > 0 else { return }
        network.setTraining(false)
        defer { network.setTraining(true) }
        for start in stride(from: 0, to: n, by: batch) {
            let count = min(batch, n - start)
            let part = images.samples(start..<start + count)
            let result = withoutGradients { logits ? network(part) : network.features(part) }
            (out.baseAddress! + start * width).update(from: result.pointer, count: count * width)
        }
    }
}
