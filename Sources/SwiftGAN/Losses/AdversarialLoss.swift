// MARK: - Adversarial objectives

/// The adversarial objectives, named as in the relativistic GAN paper.
///
/// `C` is the critic's raw output (a logit), `C_r = C(x_r)`, `C_f = C(x_f)`, `E` the
/// batch mean and `BCE(v, t)` the mean binary cross-entropy with logits. The
/// formulas are those of the paper's official code (`GAN_losses_iter.py`).
public enum AdversarialLoss: String, CaseIterable {
    /// Standard GAN, non-saturating. D: BCE(C_r, 1) + BCE(C_f, 0). G: BCE(C_f, 1).
    case sgan = "SGAN"
    /// Relativistic standard GAN. D: BCE(C_r − C_f, 1). G: BCE(C_f − C_r, 1).
    case rsgan = "RSGAN"
    /// Relativistic average standard GAN.
    /// D: [BCE(C_r − E C_f, 1) + BCE(C_f − E C_r, 0)] / 2. G: [BCE(C_r − E C_f, 0) + BCE(C_f − E C_r, 1)] / 2.
    case rasgan = "RaSGAN"
    /// Relativistic average least squares.
    /// D: [E(C_r − E C_f − 1)² + E(C_f − E C_r + 1)²] / 2. G: [E(C_r − E C_f + 1)² + E(C_f − E C_r − 1)²] / 2.
    case ralsgan = "RaLSGAN"
    /// Relativistic average hinge.
    /// D: [E max(0, 1 − (C_r − E C_f)) + E max(0, 1 + (C_f − E C_r))] / 2.
    /// G: [E max(0, 1 + (C_r − E C_f)) + E max(0, 1 − (C_f − E C_r))] / 2.
    case rahinge = "RaHingeGAN"

    /// Whether the generator's loss uses the critic's output on real data.
    public var generatorUsesReal: Bool { self != .sgan }

    /// The discriminator's loss (a scalar) from critic outputs `[N]` on real and fake data.
    public func discriminatorLoss(real: Tensor, fake: Tensor) -> Tensor {
        switch self {
        case .sgan: return bceWithLogits(real, target: 1) + bceWithLogits(fake, target: 0)
        case .rsgan: return bceWithLogits(real - fake, target: 1)
        case .rasgan:
            return (bceWithLogits(real - fake.mean(), target: 1) + bceWithLogits(fake - real.mean(), target: 0)) * 0.5
        case .ralsgan:
            return (square(real - fake.mean() - 1).mean() + square(fake - real.mean() + 1).mean()) * 0.5
        case .rahinge:
            return (relu(1 - (real - fake.mean())).mean() + relu(1 + (fake - real.mean())).mean()) * 0.5
        }
    }

    /// The generator's loss (a scalar); `real` may be nil when `generatorUsesReal` is false.
    public func generatorLoss(real: Tensor?, fake: Tensor) -> Tensor {
        guard let real else {
            precondition(!generatorUsesReal, "\(rawValue) needs the critic's output on real data")
            return bceWithLogits(fake, target: 1)
        }
        switch self {
        case .sgan: return bceWithLogits(fake, target: 1)
        case .rsgan: return bceWithLogits(fake - real, target: 1)
        case .rasgan:
            return (bceWithLogits(real - fake.mean(), target: 0) + bceWithLogits(fake - real.mean(), target: 1)) * 0.5
        case .ralsgan:
            return (square(real - fake.mean() + 1).mean() + square(fake - real.mean() - 1).mean()) * 0.5
        case .rahinge:
            return (relu(1 + (real - fake.mean())).mean() + relu(1 - (fake - real.mean())).mean()) * 0.5
        }
    }
}

/// Mean binary cross-entropy of logits against a constant 0 or 1 target:
/// `E softplus(−v)` for target 1, `E softplus(v)` for target 0.
public func bceWithLogits(_ logits: Tensor, target: Int) -> Tensor {
    precondition(target == 0 || target == 1, "target must be 0 or 1")
    return softplus(target == 1 ? -logits : logits).mean()
}

// MARK: - Names

/// A loss with its optional gradient penalty, parsed from names like `"RaSGAN-GP"`.
public struct LossSpec: Equatable {
    public var loss: AdversarialLoss
    public var gradientPenalty: Bool

    /// Every name `init(name:)` accepts.
    public static var knownNames: [String] {
        AdversarialLoss.allCases.flatMap { [$0.rawValue, $0.rawValue + "-GP"] }
    }

    /// A loss with or without the gradient penalty.
    public init(loss: AdversarialLoss, gradientPenalty: Bool) {
        self.loss = loss
        self.gradientPenalty = gradientPenalty
    }

    /// Parses a name (case-insensitive); `-GP` adds the gradient penalty.
    public init(name: String) throws(SwiftGANError) {
        var base = name.lowercased()
        gradientPenalty = base.hasSuffix("-gp")
        if gradientPenalty { base.removeLast(3) }
        guard let loss = AdversarialLoss.allCases.first(where: { $0.rawValue.lowercased() == base }) else {
            throw SwiftGANError("unknown loss '\(name)'; known losses: \(LossSpec.knownNames.joined(separator: ", "))")
        }
        self.loss = loss
    }

    public var name: String { loss.rawValue + (gradientPenalty ? "-GP" : "") }
}
