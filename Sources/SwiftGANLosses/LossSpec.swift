// MARK: - Loss names

/// An objective with its penalties, parsed from names like `"RaLSGAN-GP"`, `"WGAN-LP"`,
/// `"RpSGAN-avg-R1"`, `"DRAGAN"` (SGAN with the DRAGAN penalty) or `"RaDRAGAN"`.
public struct LossSpec: Equatable {
    /// The objective with default parameters (LSGAN targets and SGAN's minimax flag live in `GANConfig`).
    public var objective: AdversarialObjective
    /// The penalties added to the discriminator's loss, in name order.
    public var penalties: [PenaltyKind]

    public init(objective: AdversarialObjective, penalties: [PenaltyKind] = []) {
        self.objective = objective
        self.penalties = penalties
    }

    /// Every objective name with every single penalty (and the DRAGAN aliases).
    public static var knownNames: [String] {
        AdversarialObjective.all.flatMap { o in [o.name] + (o.isEnergyBased ? [] : PenaltyKind.allCases.map { o.name + "-" + $0.rawValue }) }
            + ["DRAGAN", "RaDRAGAN"]
    }

    private static let aliases: [String: LossSpec] = [
        "dragan": LossSpec(objective: .standard(minimax: false), penalties: [.dragan]),
        "radragan": LossSpec(objective: .relativistic(.standard, .average), penalties: [.dragan]),
    ]

    /// Names other projects give to losses SwiftGAN names otherwise (lowercased), with what they meant there:
    /// suggested when refused, never taken silently (`GAN` is minimax in one project, non-saturating in another;
    /// `BXE` and `LS` are a relativistic-average project's names for its two losses).
    static let otherNames: [String: (names: [String], meaning: String)] = [
        "gan": (["SGAN"], "the standard GAN, with cross-entropy; --minimax for the saturating generator loss"),
        "dcgan": (["SGAN"], "the standard GAN's loss; --arch dcgan is the network"),
        "ragan": (["RaSGAN"], "the relativistic average GAN, with cross-entropy"),
        "rgan": (["RSGAN"], "the relativistic GAN, with cross-entropy"),
        "bxe": (["SGAN", "RaSGAN"], "binary cross-entropy: standard, or relativistic average"),
        "ls": (["LSGAN", "RaLSGAN"], "least squares: standard, or relativistic average"),
        "hinge": (["HingeGAN", "RaHingeGAN"], "the hinge loss: standard, or relativistic average"),
    ]

    /// Parses a name (case-insensitive): an objective, then any penalties as `-GP`, `-LP`, `-R1`, `-DRAGAN`.
    ///
    /// - Throws: `SwiftGANError` listing the known names for an unknown one.
    public init(name: String) throws(SwiftGANError) {
        var rest = name.lowercased()
        var penalties: [PenaltyKind] = []
        while let kind = PenaltyKind.allCases.first(where: { rest.hasSuffix("-" + $0.rawValue.lowercased()) }) {
            rest.removeLast(kind.rawValue.count + 1)
            penalties.insert(kind, at: 0)
        }
        if let alias = LossSpec.aliases[rest] {
            self.init(objective: alias.objective, penalties: alias.penalties + penalties)
        } else if let objective = AdversarialObjective.all.first(where: { $0.name.lowercased() == rest }) {
            self.init(objective: objective, penalties: penalties)
        } else {
            let suffix = penalties.map { "-" + $0.rawValue }.joined()
            let hint = LossSpec.otherNames[rest].map { names, meaning in
                "; did you mean \(names.map { $0 + suffix }.joined(separator: " or ")) (\(meaning))"
            } ?? ""
            throw SwiftGANError("unknown loss '\(name)'\(hint); known losses: \(LossSpec.knownNames.joined(separator: ", "))")
        }
        guard Set(self.penalties).count == self.penalties.count else {
            throw SwiftGANError("loss '\(name)' names a penalty twice")
        }
        guard !(objective.isEnergyBased && !self.penalties.isEmpty) else {
            throw SwiftGANError("loss '\(name)': \(objective.name) takes no penalty (its critic is an auto-encoder)")
        }
    }

    /// The canonical name (`RaSGAN-GP`; `DRAGAN` and `RaDRAGAN` for the aliases).
    public var name: String {
        for (alias, spec) in [("DRAGAN", LossSpec.aliases["dragan"]!), ("RaDRAGAN", LossSpec.aliases["radragan"]!)]
        where spec.objective == objective && penalties.first == .dragan {
            return ([alias] + penalties.dropFirst().map { $0.rawValue }).joined(separator: "-")
        }
        return ([objective.name] + penalties.map { $0.rawValue }).joined(separator: "-")
    }
}
