// MARK: - Configuration

/// Everything that defines a GAN experiment: objective, networks, optimizers, schedule.
public struct GANConfig: Equatable {
    /// The objective and whether the gradient penalty is added (`"RaSGAN-GP"`).
    public var loss = try! LossSpec(name: "RaSGAN")
    /// The gradient penalty's weight λ (used when `loss.gradientPenalty`).
    public var gradientPenaltyWeight: Float = 10
    /// The network pair; `"dcgan"` for now.
    public var architecture = "dcgan"
    public var imageSize = 64
    public var channels = 3
    public var zDim = 100
    /// Generator width (`ngf`) and discriminator width (`ndf`).
    public var generatorWidth = 64
    public var discriminatorWidth = 64
    /// `"adam"` or `"sgd"`.
    public var optimizer = "adam"
    public var learningRateD: Float = 2e-4
    public var learningRateG: Float = 2e-4
    public var betasD: (Float, Float) = (0.5, 0.999)
    public var betasG: (Float, Float) = (0.5, 0.999)
    public var adamEps: Float = 1e-8
    /// Discriminator steps per generator step.
    public var criticSteps = 1
    /// Reuse the last D step's fake batch for the G step instead of drawing fresh noise.
    public var reuseFake = false
    public var seed: UInt64 = 1

    public init() {}

    public static let architectures = ["dcgan"]
    public static let optimizers = ["adam", "sgd"]

    /// Every key `set(_:_:)` accepts.
    public static let keys = ["loss", "gp_weight", "arch", "image_size", "channels", "z_dim", "ngf", "ndf", "optimizer",
                              "lr_d", "lr_g", "beta1_d", "beta2_d", "beta1_g", "beta2_g", "eps", "n_critic",
                              "reuse_fake", "seed"]

    /// Sets one option from its text form, validating it.
    ///
    /// - Throws: `SwiftGANError` naming the key for an unknown key or a bad value.
    public mutating func set(_ key: String, _ value: String) throws(SwiftGANError) {
        func int(_ low: Int, _ high: Int = Int.max) throws(SwiftGANError) -> Int {
            guard let v = Int(value), v >= low, v <= high else {
                throw SwiftGANError("\(key) must be an integer in [\(low), \(high == Int.max ? "∞" : String(high))], got '\(value)'")
            }
            return v
        }
        func float(positive: Bool = false, below1: Bool = false) throws(SwiftGANError) -> Float {
            guard let v = Float(value), v.isFinite, v >= 0, !positive || v > 0, !below1 || v < 1 else {
                let range = below1 ? "[0, 1)" : positive ? "a positive number" : "a number ≥ 0"
                throw SwiftGANError("\(key) must be \(range), got '\(value)'")
            }
            return v
        }
        switch key {
        case "loss": loss = try LossSpec(name: value)
        case "gp_weight": gradientPenaltyWeight = try float()
        case "arch":
            guard GANConfig.architectures.contains(value.lowercased()) else {
                throw SwiftGANError("unknown arch '\(value)'; known architectures: \(GANConfig.architectures.joined(separator: ", "))")
            }
            architecture = value.lowercased()
        case "image_size":
            imageSize = try int(1)
            try checkDCGANSize(imageSize)
        case "channels": channels = try int(1, 4096)
        case "z_dim": zDim = try int(1, 1 << 16)
        case "ngf": generatorWidth = try int(1, 1 << 14)
        case "ndf": discriminatorWidth = try int(1, 1 << 14)
        case "optimizer":
            guard GANConfig.optimizers.contains(value.lowercased()) else {
                throw SwiftGANError("unknown optimizer '\(value)'; known optimizers: \(GANConfig.optimizers.joined(separator: ", "))")
            }
            optimizer = value.lowercased()
        case "lr_d": learningRateD = try float(positive: true)
        case "lr_g": learningRateG = try float(positive: true)
        case "beta1_d": betasD.0 = try float(below1: true)
        case "beta2_d": betasD.1 = try float(below1: true)
        case "beta1_g": betasG.0 = try float(below1: true)
        case "beta2_g": betasG.1 = try float(below1: true)
        case "eps": adamEps = try float(positive: true)
        case "n_critic": criticSteps = try int(1, 1000)
        case "reuse_fake":
            guard let v = ["0": false, "1": true, "false": false, "true": true][value.lowercased()] else {
                throw SwiftGANError("reuse_fake must be true or false, got '\(value)'")
            }
            reuseFake = v
        case "seed":
            guard let v = UInt64(value) else { throw SwiftGANError("seed must be an integer in [0, 2⁶⁴), got '\(value)'") }
            seed = v
        default:
            throw SwiftGANError("unknown option '\(key)'; known options: \(GANConfig.keys.joined(separator: ", "))")
        }
    }

    public static func == (a: GANConfig, b: GANConfig) -> Bool {
        a.loss == b.loss && a.gradientPenaltyWeight == b.gradientPenaltyWeight && a.architecture == b.architecture
            && a.imageSize == b.imageSize && a.channels == b.channels && a.zDim == b.zDim
            && a.generatorWidth == b.generatorWidth && a.discriminatorWidth == b.discriminatorWidth
            && a.optimizer == b.optimizer && a.learningRateD == b.learningRateD && a.learningRateG == b.learningRateG
            && a.betasD == b.betasD && a.betasG == b.betasG && a.adamEps == b.adamEps
            && a.criticSteps == b.criticSteps && a.reuseFake == b.reuseFake && a.seed == b.seed
    }
}

extension GANConfig {
    /// The configuration as `(key, value)` pairs that `set(_:_:)` reads back to an equal value.
    public var keyValues: [(String, String)] {
        [("loss", loss.name), ("gp_weight", "\(gradientPenaltyWeight)"), ("arch", architecture),
         ("image_size", "\(imageSize)"), ("channels", "\(channels)"), ("z_dim", "\(zDim)"),
         ("ngf", "\(generatorWidth)"), ("ndf", "\(discriminatorWidth)"), ("optimizer", optimizer),
         ("lr_d", "\(learningRateD)"), ("lr_g", "\(learningRateG)"),
         ("beta1_d", "\(betasD.0)"), ("beta2_d", "\(betasD.1)"), ("beta1_g", "\(betasG.0)"), ("beta2_g", "\(betasG.1)"),
         ("eps", "\(adamEps)"), ("n_critic", "\(criticSteps)"), ("reuse_fake", "\(reuseFake)"), ("seed", "\(seed)")]
    }

    /// Reads `key=value` lines (blank lines ignored), starting from the defaults.
    public init(text: String) throws(SwiftGANError) {
        self.init()
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == ";" }) {
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw SwiftGANError("config line '\(trimmed)' is not of the form key=value")
            }
            try set(String(trimmed[..<eq]).trimmingSpaces, String(trimmed[trimmed.index(after: eq)...]).trimmingSpaces)
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }
}
