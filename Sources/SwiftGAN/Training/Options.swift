// MARK: - The option table

/// What values an option takes: its type and range. The C ABI exports it (`sg_options`), and Python builds
/// `GAN`'s validation, its typed `config` and the `swiftgan train` flags from it.
public enum OptionKind {
    case integer(ClosedRange<Int>)
    case number(NumberRule)
    case boolean
    case choice([String])
    /// A loss name with penalty suffixes (`swiftgan list`).
    case loss
    /// An unsigned 64-bit seed.
    case seed

    /// The kind's name in the exported table: int, float, bool, choice, loss or seed.
    public var name: String {
        switch self {
        case .integer: return "int"
        case .number: return "float"
        case .boolean: return "bool"
        case .choice: return "choice"
        case .loss: return "loss"
        case .seed: return "seed"
        }
    }

    /// The allowed values as text: `1..1000`, `positive`, `adam|rmsprop|sgd`.
    public var values: String {
        switch self {
        case .integer(let r): return "\(r.lowerBound)..\(r.upperBound)"
        case .number(let rule): return rule.rawValue
        case .boolean: return "true|false"
        case .choice(let options): return options.joined(separator: "|")
        case .loss: return "a loss name"
        case .seed: return "0..18446744073709551615"
        }
    }
}

/// The range of a real-valued option.
public enum NumberRule: String {
    case nonNegative = "≥ 0", positive = "positive", belowOne = "[0, 1)", finite = "finite"

    func accepts(_ v: Float) -> Bool {
        guard v.isFinite else { return false }
        switch self {
        case .nonNegative: return v >= 0
        case .positive: return v > 0
        case .belowOne: return v >= 0 && v < 1
        case .finite: return true
        }
    }

    var phrase: String {
        switch self {
        case .nonNegative: return "a number ≥ 0"
        case .positive: return "a positive number"
        case .belowOne: return "a number in [0, 1)"
        case .finite: return "a finite number"
        }
    }
}

/// Which configurations an option acts on: every one, or those of some losses, penalties, architectures,
/// optimizers or schedules. Outside its scope an option is accepted (a run's config.yaml lists every option)
/// and changes nothing.
public struct OptionScope {
    /// `all`, or the option whose value selects it and the values: `loss SGAN`, `arch dcgan|cnn`.
    public let text: String
    /// Whether the option acts on `config`.
    public let applies: (GANConfig) -> Bool

    public static let every = OptionScope(text: "all") { _ in true }

    /// The losses whose objective is one of `names` (`SGAN` covers SGAN-GP and DRAGAN).
    static func losses(_ names: String...) -> OptionScope {
        OptionScope(text: "loss " + names.joined(separator: "|")) { names.contains($0.loss.objective.name) }
    }

    /// The losses that carry `penalty`.
    static func penalty(_ penalty: PenaltyKind) -> OptionScope {
        OptionScope(text: "penalty -" + penalty.rawValue) { $0.loss.penalties.contains(penalty) }
    }

    static func architectures(_ list: Architecture...) -> OptionScope {
        OptionScope(text: "arch " + list.map(\.rawValue).joined(separator: "|")) { list.contains($0.architecture) }
    }

    static func optimizers(_ list: OptimizerKind...) -> OptionScope {
        OptionScope(text: "optimizer " + list.map(\.rawValue).joined(separator: "|")) { list.contains($0.optimizer) }
    }

    static func schedules(_ list: LearningRateSchedule...) -> OptionScope {
        OptionScope(text: "lr_schedule " + list.map(\.rawValue).joined(separator: "|")) { list.contains($0.lrSchedule) }
    }
}

/// One option of `GANConfig`: its name, kind, help, scope, and how it is read and written as text.
public struct Option {
    public let name: String
    public let kind: OptionKind
    public let help: String
    /// The configurations it acts on.
    public private(set) var scope = OptionScope.every
    let read: (GANConfig) -> String
    let write: (inout GANConfig, String) throws(SwiftGANError) -> Void

    /// The value of a configuration made with `GANConfig()`, before any loss preset.
    public var defaultValue: String { read(GANConfig()) }

    /// This option, acting only on the configurations of `scope`.
    func only(_ scope: OptionScope) -> Option {
        var scoped = self
        scoped.scope = scope
        return scoped
    }

    static func integer(_ name: String, _ path: WritableKeyPath<GANConfig, Int>, _ range: ClosedRange<Int>,
                        _ help: String) -> Option {
        Option(name: name, kind: .integer(range), help: help, read: { "\($0[keyPath: path])" }) { (c, text) throws(SwiftGANError) in
            guard let v = Int(text), range.contains(v) else {
                let high = range.upperBound == Int.max ? "∞" : String(range.upperBound)
                throw SwiftGANError("\(name) must be an integer in [\(range.lowerBound), \(high)], got '\(text)'")
            }
            c[keyPath: path] = v
        }
    }

    static func number(_ name: String, _ path: WritableKeyPath<GANConfig, Float>, _ rule: NumberRule, _ help: String) -> Option {
        Option(name: name, kind: .number(rule), help: help, read: { "\($0[keyPath: path])" }) { (c, text) throws(SwiftGANError) in
            c[keyPath: path] = try parseNumber(name, text, rule)
        }
    }

    static func boolean(_ name: String, _ path: WritableKeyPath<GANConfig, Bool>, _ help: String) -> Option {
        Option(name: name, kind: .boolean, help: help, read: { "\($0[keyPath: path])" }) { (c, text) throws(SwiftGANError) in
            guard let v = ["false": false, "true": true][text] else {  // the one spelling; no 1, yes or TRUE
                throw SwiftGANError("\(name) must be true or false, got '\(text)'")
            }
            c[keyPath: path] = v
        }
    }

    static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ path: WritableKeyPath<GANConfig, E>, what: String,
                                                           plural: String, _ help: String) -> Option where E.RawValue == String {
        let options = E.allCases.map(\.rawValue)
        return Option(name: name, kind: .choice(options), help: help, read: { $0[keyPath: path].rawValue }) {
            (c, text) throws(SwiftGANError) in
            guard let value = E(rawValue: text.lowercased()) else {
                throw SwiftGANError("unknown \(what) '\(text)'; known \(plural): \(options.joined(separator: ", "))")
            }
            c[keyPath: path] = value
        }
    }

    /// A penalty's weight.
    static func penaltyWeight(_ kind: PenaltyKind, _ help: String) -> Option {
        Option(name: kind.weightKey, kind: .number(.nonNegative), help: help, read: { "\($0.penaltyWeights[kind]!)" }) {
            (c, text) throws(SwiftGANError) in
            c.penaltyWeights[kind] = try parseNumber(kind.weightKey, text, .nonNegative)
        }
    }
}

private func parseNumber(_ name: String, _ text: String, _ rule: NumberRule) throws(SwiftGANError) -> Float {
    guard let v = Float(text), rule.accepts(v) else { throw SwiftGANError("\(name) must be \(rule.phrase), got '\(text)'") }
    return v
}

extension GANConfig {
    /// Every option, in the order the resolved configuration lists them: the one table of names, kinds,
    /// defaults (`GANConfig()`'s values) and help.
    public static let options: [Option] = [
        Option(name: "loss", kind: .loss,
               help: "a loss of `swiftgan list` with any penalty suffixes (case-insensitive), e.g. RaSGAN, RaLSGAN-GP, "
                   + "WGAN-LP, RpSGAN-avg-R1; sets the loss's preset before the other options",
               read: { $0.loss.name }) { (c, text) throws(SwiftGANError) in
            c.loss = try LossSpec(name: text)
            for (k, v) in GANConfig.preset(for: c.loss) { try c.set(k, v) }
        },
        .boolean("minimax", \.minimax, "SGAN's generator minimises −BCE(C_f, 0) instead of BCE(C_f, 1)").only(.losses("SGAN")),
        .number("lsgan_a", \.lsganTargets.a, .finite, "LSGAN's target a for fake samples").only(.losses("LSGAN")),
        .number("lsgan_b", \.lsganTargets.b, .finite, "LSGAN's target b for real samples").only(.losses("LSGAN")),
        .number("lsgan_c", \.lsganTargets.c, .finite, "LSGAN's target c of the generator").only(.losses("LSGAN")),
        .penaltyWeight(.gradient, "the gradient penalty's weight λ (-GP)").only(.penalty(.gradient)),
        .penaltyWeight(.lipschitz, "the Lipschitz penalty's weight λ (-LP)").only(.penalty(.lipschitz)),
        .penaltyWeight(.r1, "R1's weight γ (-R1)").only(.penalty(.r1)),
        .penaltyWeight(.dragan, "DRAGAN's penalty weight λ (-DRAGAN)").only(.penalty(.dragan)),
        .boolean("dragan_clip", \.draganClip, "DRAGAN clips its perturbed points to [-1, 1], the range of images").only(.penalty(.dragan)),
        .number("ebgan_margin", \.ebganMargin, .nonNegative, "EBGAN's margin m").only(.losses("EBGAN")),
        .number("pt_weight", \.pullAwayWeight, .nonNegative, "EBGAN's pull-away term weight").only(.losses("EBGAN")),
        .number("began_gamma", \.beganGamma, .positive, "BEGAN's diversity ratio γ").only(.losses("BEGAN")),
        .number("began_lambda_k", \.beganLambdaK, .nonNegative, "BEGAN's learning rate λ_k of k_t").only(.losses("BEGAN")),
        .integer("ae_code", \.autoEncoderCode, 1...(1 << 16), "the auto-encoder critic's code size").only(.losses("EBGAN", "BEGAN")),
        .number("clip", \.clip, .nonNegative, "clip D's parameters to ±clip after each D step (0: off)"),
        .choice("arch", \.architecture, what: "arch", plural: "architectures",
                "the network pair (`swiftgan list`)"),
        .boolean("selu", \.dcgan.selu, "DCGAN with SELU activations instead of batch norm + (leaky) ReLU").only(.architectures(.dcgan, .patchgan, .autoencoder, .ebgan)),
        .boolean("batch_norm_g", \.dcgan.batchNormG, "batch norm in the DCGAN generator").only(.architectures(.dcgan, .cnn, .patchgan, .autoencoder, .ebgan)),
        .boolean("batch_norm_d", \.dcgan.batchNormD, "batch norm in the DCGAN discriminator").only(.architectures(.dcgan, .cnn)),
        .boolean("upsample_conv", \.dcgan.upsampleConv, "the DCGAN generator upsamples then convolves instead of transposed convolutions").only(.architectures(.dcgan, .patchgan, .autoencoder, .ebgan)),
        .boolean("spectral_norm_d", \.dcgan.spectralNormD, "spectral normalisation of D's weights").only(.architectures(.dcgan, .cnn, .patchgan)),
        .boolean("spectral_norm_g", \.dcgan.spectralNormG, "spectral normalisation of G's weights").only(.architectures(.dcgan, .cnn, .patchgan, .autoencoder, .ebgan)),
        .boolean("layer_norm_d", \.layerNormD, "layer normalisation in the ResNet critic's blocks").only(.architectures(.resnet)),
        .integer("image_size", \.imageSize, 1...(1 << 14), "image side: 32, 64, 128 or 256 for the convolutional architectures").only(.architectures(.dcgan, .cnn, .resnet, .patchgan, .autoencoder, .ebgan, .began)),
        .integer("channels", \.channels, 1...4096, "image channels (1 grey, 3 colour), or the data dimension for the MLP"),
        .integer("pack", \.pack, 1...64, "PacGAN: the critic judges pack samples at once, concatenated along the channels (a batch of N samples is N/pack packed ones)"),
        .integer("z_dim", \.zDim, 1...(1 << 16), "latent size"),
        .choice("latent", \.latent, what: "latent", plural: "latents",
                "the latent distribution: normal N(0, 1) or uniform U(-1, 1)"),
        .integer("ngf", \.generatorWidth, 1...(1 << 14), "the generator's width"),
        .integer("ndf", \.discriminatorWidth, 1...(1 << 14), "the discriminator's width"),
        .choice("optimizer", \.optimizer, what: "optimizer", plural: "optimizers", "both nets' optimizer"),
        .number("lr_d", \.learningRateD, .positive, "D's learning rate"),
        .number("lr_g", \.learningRateG, .positive, "G's learning rate"),
        .number("beta1_d", \.betasD.0, .belowOne, "D's Adam β1").only(.optimizers(.adam)),
        .number("beta2_d", \.betasD.1, .belowOne, "D's Adam β2").only(.optimizers(.adam)),
        .number("beta1_g", \.betasG.0, .belowOne, "G's Adam β1").only(.optimizers(.adam)),
        .number("beta2_g", \.betasG.1, .belowOne, "G's Adam β2").only(.optimizers(.adam)),
        .number("eps", \.eps, .positive, "Adam's and RMSprop's ε").only(.optimizers(.adam, .rmsprop)),
        .number("rmsprop_alpha", \.rmspropAlpha, .belowOne, "RMSprop's smoothing constant α").only(.optimizers(.rmsprop)),
        .integer("n_critic", \.criticSteps, 1...1000, "D steps per G step"),
        .boolean("reuse_fake", \.reuseFake, "the G step reuses the last D step's fake batch instead of fresh noise"),
        .choice("lr_schedule", \.lrSchedule, what: "lr_schedule", plural: "lr_schedules",
                "constant; step (× lr_gamma every lr_step iterations); linear (to 0 at iteration lr_step); began "
                    + "(BEGAN: × lr_gamma whenever M_global has not improved for lr_step iterations)"),
        .integer("lr_step", \.lrStep, 1...Int.max, "the schedule's period in iterations").only(.schedules(.step, .linear, .began)),
        .number("lr_gamma", \.lrGamma, .positive, "the schedule's factor").only(.schedules(.step, .began)),
        .number("ema_decay", \.emaDecay, .belowOne, "sample with an exponential moving average of G's weights (0: off)"),
        .choice("non_finite", \.nonFinite, what: "non_finite policy", plural: "policies",
                "when a loss, gradient or update is NaN or infinite: raise (TrainingDivergedError, nothing of it applied) "
                    + "or skip (the update is not applied, skipped_steps counts it)"),
        Option(name: "seed", kind: .seed, help: "seeds the weights and the engine's random stream",
               read: { "\($0.seed)" }) { (c, text) throws(SwiftGANError) in
            guard let v = UInt64(text) else { throw SwiftGANError("seed must be an integer in [0, 2⁶⁴), got '\(text)'") }
            c.seed = v
        },
    ]

    /// Every key `set(_:_:)` accepts, in table order.
    public static var keys: [String] { options.map(\.name) }

    /// Sets one option from its text form, validating it; setting `loss` applies its preset.
    ///
    /// - Throws: `SwiftGANError` naming the key for an unknown key or a bad value.
    public mutating func set(_ key: String, _ value: String) throws(SwiftGANError) {
        guard let option = GANConfig.options.first(where: { $0.name == key }) else {
            throw SwiftGANError("unknown option '\(key)'; known options: \(GANConfig.keys.joined(separator: ", "))")
        }
        try option.write(&self, value)
    }

    /// The configuration as `(key, value)` pairs that `init(text:)` reads back to an equal value.
    public var keyValues: [(String, String)] { GANConfig.options.map { ($0.name, $0.read(self)) } }
}
