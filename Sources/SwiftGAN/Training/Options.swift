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
public struct OptionScope<Config> {
    /// `all`, or the option whose value selects it and the values: `loss SGAN`, `arch dcgan|cnn`.
    public let text: String
    /// Whether the option acts on `config`.
    public let applies: (Config) -> Bool

    public static var every: OptionScope { OptionScope(text: "all") { _ in true } }
}

extension OptionScope where Config == GANConfig {
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

/// A configuration described by an option table (a GAN's, a feature network's): parsed, validated and written
/// back as text by its options only.
public protocol Configurable {
    init()
    /// Every option, in the order the configuration lists them.
    static var options: [Option<Self>] { get }
}

extension Configurable {
    /// Every key `set(_:_:)` accepts, in table order.
    public static var keys: [String] { options.map(\.name) }

    /// Sets one option from its text form, validating it.
    ///
    /// - Throws: `SwiftGANError` naming the key for an unknown key or a bad value.
    public mutating func set(_ key: String, _ value: String) throws(SwiftGANError) {
        guard let option = Self.options.first(where: { $0.name == key }) else {
            throw SwiftGANError("unknown option '\(key)'; known options: \(Self.keys.joined(separator: ", "))")
        }
        try option.write(&self, value)
    }

    /// The configuration as `(key, value)` pairs that `init(text:)` reads back to an equal value.
    public var keyValues: [(String, String)] { Self.options.map { ($0.name, $0.read(self)) } }

    /// The configuration as "key=value" lines.
    public var text: String { keyValues.map { "\($0.0)=\($0.1)\n" }.joined() }

    /// The option table as "name\tkind\tdefault\tvalues\thelp\tscope" lines (`sg_options`).
    public static var table: String {
        options.map { "\($0.name)\t\($0.kind.name)\t\($0.defaultValue)\t\($0.kind.values)\t\($0.help)\t\($0.scope.text)\n" }.joined()
    }

    /// Reads `key=value` lines (or `;`-separated), starting from the defaults; the keys in `first` are set
    /// first (a GAN's `loss`, whose preset the other keys override), then the others in order.
    public init(text: String, first: Set<String>) throws(SwiftGANError) {
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
        for (k, v) in pairs where first.contains(k) { try set(k, v) }
        for (k, v) in pairs where !first.contains(k) { try set(k, v) }
    }

    public init(text: String) throws(SwiftGANError) { try self.init(text: text, first: []) }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }
}

/// One option of a configuration: its name, kind, help, scope, and how it is read and written as text.
public struct Option<Config: Configurable> {
    public let name: String
    public let kind: OptionKind
    public let help: String
    /// The configurations it acts on.
    public private(set) var scope = OptionScope<Config>.every
    let read: (Config) -> String
    let write: (inout Config, String) throws(SwiftGANError) -> Void

    /// The value of a default configuration (a GAN's before any loss preset).
    public var defaultValue: String { read(Config()) }

    /// This option, acting only on the configurations of `scope`.
    func only(_ scope: OptionScope<Config>) -> Option {
        var scoped = self
        scoped.scope = scope
        return scoped
    }

    static func integer(_ name: String, _ path: WritableKeyPath<Config, Int>, _ range: ClosedRange<Int>,
                        _ help: String) -> Option {
        Option(name: name, kind: .integer(range), help: help, read: { "\($0[keyPath: path])" }) { (c, text) throws(SwiftGANError) in
            guard let v = Int(text), range.contains(v) else {
                let high = range.upperBound == Int.max ? "∞" : String(range.upperBound)
                throw SwiftGANError("\(name) must be an integer in [\(range.lowerBound), \(high)], got '\(text)'")
            }
            c[keyPath: path] = v
        }
    }

    static func number(_ name: String, _ path: WritableKeyPath<Config, Float>, _ rule: NumberRule, _ help: String) -> Option {
        Option(name: name, kind: .number(rule), help: help, read: { "\($0[keyPath: path])" }) { (c, text) throws(SwiftGANError) in
            c[keyPath: path] = try parseNumber(name, text, rule)
        }
    }

    static func seed(_ name: String, _ path: WritableKeyPath<Config, UInt64>, _ help: String) -> Option {
        Option(name: name, kind: .seed, help: help, read: { "\($0[keyPath: path])" }) { (c, text) throws(SwiftGANError) in
            guard let v = UInt64(text) else { throw SwiftGANError("\(name) must be an integer in [0, 2⁶⁴), got '\(text)'") }
            c[keyPath: path] = v
        }
    }

    static func boolean(_ name: String, _ path: WritableKeyPath<Config, Bool>, _ help: String) -> Option {
        Option(name: name, kind: .boolean, help: help, read: { "\($0[keyPath: path])" }) { (c, text) throws(SwiftGANError) in
            guard let v = ["false": false, "true": true][text] else {  // the one spelling; no 1, yes or TRUE
                throw SwiftGANError("\(name) must be true or false, got '\(text)'")
            }
            c[keyPath: path] = v
        }
    }

    static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ path: WritableKeyPath<Config, E>, what: String,
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

}

extension Option where Config == GANConfig {
    /// A penalty's weight (its name, help and default: the penalty's declaration).
    static func penaltyWeight(_ kind: PenaltyKind) -> Option {
        Option(name: kind.weightKey, kind: .number(.nonNegative), help: kind.weightHelp, read: { "\($0.penaltyWeights[kind]!)" }) {
            (c, text) throws(SwiftGANError) in
            c.penaltyWeights[kind] = try parseNumber(kind.weightKey, text, .nonNegative)
        }
    }
}

private func parseNumber(_ name: String, _ text: String, _ rule: NumberRule) throws(SwiftGANError) -> Float {
    guard let v = Float(text), rule.accepts(v) else { throw SwiftGANError("\(name) must be \(rule.phrase), got '\(text)'") }
    return v
}

extension GANConfig: Configurable {
    /// Every option, in the order the resolved configuration lists them: the one table of names, kinds,
    /// defaults (`GANConfig()`'s values) and help.
    public static let options: [Option<GANConfig>] = objectiveOptions + penaltyOptions + otherOptions

    /// The objective's options.
    private static let objectiveOptions: [Option<GANConfig>] = [
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
    ]

    /// Each penalty's weight, from its declaration.
    private static let penaltyOptions: [Option<GANConfig>] = PenaltyKind.allCases.map { .penaltyWeight($0).only(.penalty($0)) }

    /// The networks', the optimizers' and the trainer's options.
    private static let otherOptions: [Option<GANConfig>] = [
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
        .choice("precision", \.precision, what: "precision", plural: "precisions",
                "the convolutions' and matrix products' arithmetic: fp32, or bf16 (their inputs rounded to bfloat16, "
                    + "float32 sums; weights, optimizer state, batch-norm statistics and losses stay float32; needs "
                    + "AVX512-BF16 or AMX; experimental)"),
        .seed("seed", \.seed, "seeds the weights and the engine's random stream"),
    ]

    /// Reads `key=value` lines (or `;`-separated), starting from the defaults. `loss` is applied first (with
    /// its preset), then the other keys in order, so they override the preset.
    public init(text: String) throws(SwiftGANError) { try self.init(text: text, first: ["loss"]) }
}
