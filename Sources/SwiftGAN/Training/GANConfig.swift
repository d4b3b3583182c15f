// MARK: - Configuration

/// Everything that defines a GAN experiment: objective, penalties, networks, optimizers, schedule.
///
/// Set from text with `set(_:_:)` or `init(text:)`; a loss's preset (WGAN's clipping, RMSprop and
/// critic steps, WGAN-GP's Adam settings) is applied when the loss is set, before other keys.
public struct GANConfig: Equatable {
    /// The objective and its penalties (`"RaSGAN-GP"`).
    public var loss = try! LossSpec(name: "RaSGAN")
    /// SGAN's generator: minimax instead of non-saturating.
    public var minimax = false
    /// LSGAN's targets: a for fake, b for real, c for the generator.
    public var lsganTargets: (a: Float, b: Float, c: Float) = (0, 1, 1)
    /// Each penalty's weight (λ; γ for R1).
    public var penaltyWeights: [PenaltyKind: Float] = [.gradient: 10, .lipschitz: 10, .r1: 10, .dragan: 10]
    /// EBGAN's margin m and pull-away weight; BEGAN's γ and λ_k; the auto-encoder critic's code size.
    public var ebganMargin: Float = 1
    public var pullAwayWeight: Float = 0.1
    public var beganGamma: Float = 0.5
    public var beganLambdaK: Float = 0.001
    public var autoEncoderCode = 32
    /// DRAGAN clips its perturbed points to [−1, 1], the range of images; off for data in another range.
    public var draganClip = true
    /// Clip every discriminator parameter to ±clip after each D step (0: off; WGAN's preset 0.01).
    public var clip: Float = 0
    /// The network pair (`GANConfig.architectures`).
    public var architecture = "dcgan"
    /// The DCGAN pair's options (SELU, batch norm, upsample + conv, spectral norm).
    public var dcgan = DCGANOptions()
    /// Layer normalisation in the ResNet critic's blocks (the WGAN-GP code's choice with a penalty).
    public var layerNormD = false
    /// Image side (DCGAN); ignored by the MLP.
    public var imageSize = 64
    /// Image channels (DCGAN) or the data dimension (MLP).
    public var channels = 3
    public var zDim = 100
    /// The latent distribution: `"normal"` N(0, 1) or `"uniform"` U(−1, 1).
    public var latent = "normal"
    /// Generator width (`ngf`) and discriminator width (`ndf`).
    public var generatorWidth = 64
    public var discriminatorWidth = 64
    /// `"adam"`, `"rmsprop"` or `"sgd"`.
    public var optimizer = "adam"
    public var learningRateD: Float = 2e-4
    public var learningRateG: Float = 2e-4
    public var betasD: (Float, Float) = (0.5, 0.999)
    public var betasG: (Float, Float) = (0.5, 0.999)
    /// Adam's and RMSprop's ε.
    public var eps: Float = 1e-8
    /// RMSprop's smoothing constant α.
    public var rmspropAlpha: Float = 0.99
    /// Discriminator steps per generator step.
    public var criticSteps = 1
    /// Reuse the last D step's fake batch for the G step instead of drawing fresh noise.
    public var reuseFake = false
    /// The learning-rate schedule: `"constant"`, `"step"` (× `lrGamma` every `lrStep` iterations),
    /// `"linear"` (down to 0 at iteration `lrStep`) or `"began"` (× `lrGamma` whenever BEGAN's M_global has
    /// not improved for `lrStep` iterations).
    public var lrSchedule = "constant"
    public var lrStep = 1000
    public var lrGamma: Float = 0.5
    /// Decay of the exponential moving average of G's weights used for sampling (0: off).
    public var emaDecay: Float = 0
    public var seed: UInt64 = 1

    public init() {}

    public static let architectures = ["dcgan", "cnn", "resnet", "patchgan", "autoencoder", "mlp"]
    public static let optimizers = ["adam", "rmsprop", "sgd"]
    public static let latents = ["normal", "uniform"]
    public static let schedules = ["constant", "step", "linear", "began"]

    /// The factor the schedule applies to the learning rates at `iteration` (0-based).
    public func learningRateFactor(at iteration: Int) -> Float {
        switch lrSchedule {
        case "step": return Float(pow(Double(lrGamma), Double(iteration / lrStep)))
        case "linear": return max(0, 1 - Float(iteration) / Float(lrStep))
        default: return 1
        }
    }

    /// The objective with this configuration's parameters (minimax, LSGAN targets).
    public var objective: AdversarialObjective {
        switch loss.objective {
        case .standard: return .standard(minimax: minimax)
        case .leastSquares: return .leastSquares(a: lsganTargets.a, b: lsganTargets.b, c: lsganTargets.c)
        case .energy: return .energy(margin: ebganMargin)
        case .boundaryEquilibrium: return .boundaryEquilibrium(gamma: beganGamma, lambdaK: beganLambdaK)
        default: return loss.objective
        }
    }

    /// The shape of one training sample: `[C, S, S]` (DCGAN) or `[channels]` (MLP).
    public var sampleShape: [Int] { architecture == "mlp" ? [channels] : [channels, imageSize, imageSize] }

    /// The settings a loss recommends, applied when the loss is set.
    public static func preset(for loss: LossSpec) -> [(String, String)] {
        switch (loss.objective, loss.penalties) {
        case (.wasserstein, []):  // Arjovsky et al.: clipping, RMSprop 5e-5, 5 critic steps
            return [("clip", "0.01"), ("optimizer", "rmsprop"), ("lr_d", "5e-05"), ("lr_g", "5e-05"), ("n_critic", "5")]
        case (.wasserstein, _):  // Gulrajani et al.: Adam 1e-4, betas (0, 0.9), 5 critic steps
            return [("optimizer", "adam"), ("lr_d", "0.0001"), ("lr_g", "0.0001"), ("beta1_d", "0.0"), ("beta2_d", "0.9"),
                    ("beta1_g", "0.0"), ("beta2_g", "0.9"), ("n_critic", "5")]
        default:
            return []
        }
    }

    /// Every key `set(_:_:)` accepts.
    public static let keys = ["loss", "minimax", "lsgan_a", "lsgan_b", "lsgan_c", "gp_weight", "lp_weight", "r1_weight",
                              "dragan_weight", "dragan_clip", "ebgan_margin", "pt_weight", "began_gamma",
                              "began_lambda_k", "ae_code", "clip", "arch", "selu", "batch_norm_g", "batch_norm_d", "upsample_conv",
                              "spectral_norm_d", "spectral_norm_g", "layer_norm_d", "image_size", "channels", "z_dim", "latent", "ngf", "ndf",
                              "optimizer", "lr_d", "lr_g", "beta1_d", "beta2_d", "beta1_g", "beta2_g", "eps",
                              "rmsprop_alpha", "n_critic", "reuse_fake", "lr_schedule", "lr_step", "lr_gamma", "ema_decay", "seed"]

    /// Sets one option from its text form, validating it; setting `loss` applies its preset.
    ///
    /// - Throws: `SwiftGANError` naming the key for an unknown key or a bad value.
    public mutating func set(_ key: String, _ value: String) throws(SwiftGANError) {
        func int(_ low: Int, _ high: Int = Int.max) throws(SwiftGANError) -> Int {
            guard let v = Int(value), v >= low, v <= high else {
                throw SwiftGANError("\(key) must be an integer in [\(low), \(high == Int.max ? "∞" : String(high))], got '\(value)'")
            }
            return v
        }
        func float(positive: Bool = false, below1: Bool = false, anySign: Bool = false) throws(SwiftGANError) -> Float {
            guard let v = Float(value), v.isFinite, anySign || v >= 0, !positive || v > 0, !below1 || v < 1 else {
                let range = below1 ? "[0, 1)" : positive ? "a positive number" : anySign ? "a finite number" : "a number ≥ 0"
                throw SwiftGANError("\(key) must be \(range), got '\(value)'")
            }
            return v
        }
        func bool() throws(SwiftGANError) -> Bool {
            guard let v = ["0": false, "1": true, "false": false, "true": true][value.lowercased()] else {
                throw SwiftGANError("\(key) must be true or false, got '\(value)'")
            }
            return v
        }
        func choice(_ options: [String], _ what: String) throws(SwiftGANError) -> String {
            guard options.contains(value.lowercased()) else {
                throw SwiftGANError("unknown \(what) '\(value)'; known \(what)s: \(options.joined(separator: ", "))")
            }
            return value.lowercased()
        }
        switch key {
        case "loss":
            loss = try LossSpec(name: value)
            for (k, v) in GANConfig.preset(for: loss) { try set(k, v) }
        case "minimax": minimax = try bool()
        case "lsgan_a": lsganTargets.a = try float(anySign: true)
        case "lsgan_b": lsganTargets.b = try float(anySign: true)
        case "lsgan_c": lsganTargets.c = try float(anySign: true)
        case "gp_weight": penaltyWeights[.gradient] = try float()
        case "lp_weight": penaltyWeights[.lipschitz] = try float()
        case "r1_weight": penaltyWeights[.r1] = try float()
        case "dragan_weight": penaltyWeights[.dragan] = try float()
        case "dragan_clip": draganClip = try bool()
        case "ebgan_margin": ebganMargin = try float()
        case "pt_weight": pullAwayWeight = try float()
        case "began_gamma": beganGamma = try float(positive: true)
        case "began_lambda_k": beganLambdaK = try float()
        case "ae_code": autoEncoderCode = try int(1, 1 << 16)
        case "clip": clip = try float()
        case "arch":
            guard GANConfig.architectures.contains(value.lowercased()) else {
                throw SwiftGANError("unknown arch '\(value)'; known architectures: \(GANConfig.architectures.joined(separator: ", "))")
            }
            architecture = value.lowercased()
        case "selu": dcgan.selu = try bool()
        case "batch_norm_g": dcgan.batchNormG = try bool()
        case "batch_norm_d": dcgan.batchNormD = try bool()
        case "upsample_conv": dcgan.upsampleConv = try bool()
        case "spectral_norm_d": dcgan.spectralNormD = try bool()
        case "spectral_norm_g": dcgan.spectralNormG = try bool()
        case "layer_norm_d": layerNormD = try bool()
        case "image_size": imageSize = try int(1, 1 << 14)
        case "channels": channels = try int(1, 4096)
        case "z_dim": zDim = try int(1, 1 << 16)
        case "latent": latent = try choice(GANConfig.latents, "latent")
        case "ngf": generatorWidth = try int(1, 1 << 14)
        case "ndf": discriminatorWidth = try int(1, 1 << 14)
        case "optimizer": optimizer = try choice(GANConfig.optimizers, "optimizer")
        case "lr_d": learningRateD = try float(positive: true)
        case "lr_g": learningRateG = try float(positive: true)
        case "beta1_d": betasD.0 = try float(below1: true)
        case "beta2_d": betasD.1 = try float(below1: true)
        case "beta1_g": betasG.0 = try float(below1: true)
        case "beta2_g": betasG.1 = try float(below1: true)
        case "eps": eps = try float(positive: true)
        case "rmsprop_alpha": rmspropAlpha = try float(below1: true)
        case "n_critic": criticSteps = try int(1, 1000)
        case "reuse_fake": reuseFake = try bool()
        case "ema_decay": emaDecay = try float(below1: true)
        case "lr_schedule": lrSchedule = try choice(GANConfig.schedules, "lr_schedule")
        case "lr_step": lrStep = try int(1)
        case "lr_gamma": lrGamma = try float(positive: true)
        case "seed":
            guard let v = UInt64(value) else { throw SwiftGANError("seed must be an integer in [0, 2⁶⁴), got '\(value)'") }
            seed = v
        default:
            throw SwiftGANError("unknown option '\(key)'; known options: \(GANConfig.keys.joined(separator: ", "))")
        }
    }

    /// Checks the combination of options (called when a trainer is built).
    public func validate() throws(SwiftGANError) {
        if architecture == "dcgan" || architecture == "patchgan" || architecture == "autoencoder" { try checkDCGANSize(imageSize) }
        let energyBased = loss.objective.isEnergyBased
        if energyBased && architecture != "autoencoder" && architecture != "mlp" {
            throw SwiftGANError("loss \(loss.name) needs an auto-encoder critic: arch 'autoencoder' or 'mlp', got '\(architecture)'")
        }
        if !energyBased && architecture == "autoencoder" {
            throw SwiftGANError("arch 'autoencoder' is for the energy-based losses EBGAN and BEGAN, got loss \(loss.name)")
        }
        if architecture == "cnn" { try checkStandardCNNSize(imageSize) }
        if architecture == "resnet" {
            try checkResNetSize(imageSize)
            if dcgan.spectralNormD || dcgan.spectralNormG || !dcgan.batchNormG || !dcgan.batchNormD {
                throw SwiftGANError("arch 'resnet' takes layer_norm_d, not the DCGAN options (spectral_norm_*, batch_norm_*)")
            }
        }
        if lrSchedule == "began", case .boundaryEquilibrium = loss.objective {} else if lrSchedule == "began" {
            throw SwiftGANError("lr_schedule 'began' follows BEGAN's convergence measure and needs loss BEGAN, got \(loss.name)")
        }
        if !["dcgan", "patchgan", "autoencoder"].contains(architecture) && (dcgan.selu || dcgan.upsampleConv) {
            throw SwiftGANError("selu and upsample_conv are options of arch 'dcgan', not '\(architecture)'")
        }
    }

    /// The configuration as `(key, value)` pairs that `init(text:)` reads back to an equal value.
    public var keyValues: [(String, String)] {
        [("loss", loss.name), ("minimax", "\(minimax)"), ("lsgan_a", "\(lsganTargets.a)"), ("lsgan_b", "\(lsganTargets.b)"),
         ("lsgan_c", "\(lsganTargets.c)")]
            + PenaltyKind.allCases.map { ($0.weightKey, "\(penaltyWeights[$0]!)") }
            + [("dragan_clip", "\(draganClip)"), ("ebgan_margin", "\(ebganMargin)"), ("pt_weight", "\(pullAwayWeight)"),
               ("began_gamma", "\(beganGamma)"), ("began_lambda_k", "\(beganLambdaK)"), ("ae_code", "\(autoEncoderCode)"),
               ("clip", "\(clip)"), ("arch", architecture), ("selu", "\(dcgan.selu)"),
               ("batch_norm_g", "\(dcgan.batchNormG)"), ("batch_norm_d", "\(dcgan.batchNormD)"),
               ("upsample_conv", "\(dcgan.upsampleConv)"), ("spectral_norm_d", "\(dcgan.spectralNormD)"),
               ("spectral_norm_g", "\(dcgan.spectralNormG)"), ("layer_norm_d", "\(layerNormD)"),
               ("image_size", "\(imageSize)"), ("channels", "\(channels)"),
               ("z_dim", "\(zDim)"), ("latent", latent), ("ngf", "\(generatorWidth)"), ("ndf", "\(discriminatorWidth)"),
               ("optimizer", optimizer), ("lr_d", "\(learningRateD)"), ("lr_g", "\(learningRateG)"),
               ("beta1_d", "\(betasD.0)"), ("beta2_d", "\(betasD.1)"), ("beta1_g", "\(betasG.0)"), ("beta2_g", "\(betasG.1)"),
               ("eps", "\(eps)"), ("rmsprop_alpha", "\(rmspropAlpha)"), ("n_critic", "\(criticSteps)"),
               ("reuse_fake", "\(reuseFake)"), ("lr_schedule", lrSchedule), ("lr_step", "\(lrStep)"),
               ("lr_gamma", "\(lrGamma)"), ("ema_decay", "\(emaDecay)"), ("seed", "\(seed)")]
    }

    /// Reads `key=value` lines (or `;`-separated), starting from the defaults. `loss` is applied
    /// first (with its preset), then the other keys in order, so they override the preset.
    public init(text: String) throws(SwiftGANError) {
        self.init()
        var pairs: [(String, String)] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == ";" }) {
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw SwiftGANError("config line '\(trimmed)' is not of the form key=value")
            }
            pairs.append((String(trimmed[..<eq]).trimmingSpaces, String(trimmed[trimmed.index(after: eq)...]).trimmingSpaces))
        }
        for (k, v) in pairs where k == "loss" { try set(k, v) }
        for (k, v) in pairs where k != "loss" { try set(k, v) }
    }

    public static func == (a: GANConfig, b: GANConfig) -> Bool {
        a.keyValues.map { "\($0.0)=\($0.1)" } == b.keyValues.map { "\($0.0)=\($0.1)" }
    }
}

import Glibc

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }
}
