// MARK: - The feature network of the sample-quality metrics

/// A small CNN classifier whose spatially averaged last activations are the feature space of SwiftGAN's metrics
/// (FID, KID, precision/recall): no Inception weights are at hand, so the core trains its own on a labelled
/// dataset (`swiftgan features train`).
///
/// `body`: Conv3×3(channels, w) BN ReLU, Conv3×3/2(w, 2w) BN ReLU, Conv3×3/2(2w, 4w) BN ReLU,
/// Conv3×3/2(4w, 4w) BN ReLU; the features are its spatial mean ([N, 4w]); `head`: Linear(4w, classes).
public final class FeatureNetwork: Module {
    public let body: Sequential
    public let head: Linear
    public let featureCount: Int

    public init(channels: Int, width: Int, classes: Int, rng: inout RandomGenerator) {
        var layers: [Module] = []
        for (input, output, stride) in [(channels, width, 1), (width, 2 * width, 2), (2 * width, 4 * width, 2),
                                        (4 * width, 4 * width, 2)] {
            layers += [Conv2d(input, output, kernelSize: 3, stride: stride, padding: 1, bias: false, rng: &rng),
                       BatchNorm2d(output), ReLU()]
        }
        body = Sequential(layers)
        featureCount = 4 * width
        head = Linear(4 * width, classes, rng: &rng)
    }

    /// The features [N, 4w] of images [N, C, S, S].
    public func features(_ x: Tensor) -> Tensor { body(x).mean(alongAxes: [2, 3]).flattened() }

    /// The class logits [N, classes].
    public func callAsFunction(_ x: Tensor) -> Tensor { head(features(x)) }

    public var children: [(String, Module)] { [("body", body), ("head", head)] }
}
