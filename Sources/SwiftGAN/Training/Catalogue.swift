// MARK: - What can be asked for by name

/// Names and one-line descriptions of every loss, penalty and architecture.
public enum Catalogue {
    /// Every objective (without penalties) with its formula.
    public static var losses: [(String, String)] {
        AdversarialObjective.all.map { ($0.name, $0.formula) }
            + [("DRAGAN", "SGAN-DRAGAN: SGAN with the DRAGAN penalty"),
               ("RaDRAGAN", "RaSGAN-DRAGAN: RaSGAN with the DRAGAN penalty")]
    }

    /// Every penalty suffix with its formula.
    public static var penalties: [(String, String)] {
        PenaltyKind.allCases.map { ("-" + $0.rawValue, $0.formula) }
    }

    /// Every architecture with its layer sequence (the registry's summaries).
    public static var architectures: [(String, String)] { Architecture.allCases.map { ($0.rawValue, $0.networks.summary) } }
}
