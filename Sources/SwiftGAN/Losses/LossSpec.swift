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
            throw SwiftGANError("unknown loss '\(name)'; known losses: \(LossSpec.knownNames.joined(separator: ", "))")
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

    /// A one-line description with the formula, for `swiftgan.losses()`.
    public static func describe(_ objective: AdversarialObjective) -> String {
        switch objective {
        case .standard: return "D: BCE(C_r,1) + BCE(C_f,0); G: BCE(C_f,1) (non-saturating; minimax=True: G: −BCE(C_f,0))"
        case .leastSquares: return "D: E(C_r−b)² + E(C_f−a)²; G: E(C_f−c)² (a, b, c = lsgan_a, lsgan_b, lsgan_c; default 0, 1, 1)"
        case .hinge: return "D: E max(0,1−C_r) + E max(0,1+C_f); G: −E C_f"
        case .wasserstein: return "D: E C_f − E C_r; G: −E C_f (preset: clip ±0.01, RMSprop lr 5e-5, n_critic 5)"
        case .energy:
            return "auto-encoder critic, e(x) = E(x−AE(x))² per sample; D: E e(x_r) + E max(0, m−e(x_f)); "
                + "G: E e(x_f) + pt_weight·PT(codes) (m = ebgan_margin, default 1; pt_weight 0.1); arch autoencoder or mlp"
        case .boundaryEquilibrium:
            return "auto-encoder critic, L(x) = E|x−AE(x)| per sample; D: E L(x_r) − k·E L(x_f); G: E L(x_f); "
                + "k ← clip(k + λ_k(γE L(x_r) − E L(x_f)), 0, 1) (γ = began_gamma 0.5, λ_k = began_lambda_k 0.001); "
                + "reports k and M_global; arch autoencoder or mlp"
        case .relativistic(let f, let r):
            let (up, down): (String, String)
            switch f {
            case .standard: (up, down) = ("BCE(v,1)", "BCE(v,0)")
            case .leastSquares: (up, down) = ("(v−1)²", "(v+1)²")
            case .hinge: (up, down) = ("max(0,1−v)", "max(0,1+v)")
            }
            let fs = "f₁(v)=\(up), f₂(v)=\(down)"
            switch r {
            case .paired: return "D: E f₁(C_r−C_f); G: E f₁(C_f−C_r); \(fs)"
            case .average: return "D: ½[E f₁(C_r−E C_f) + E f₂(C_f−E C_r)]; G: ½[E f₂(C_r−E C_f) + E f₁(C_f−E C_r)]; \(fs)"
            case .centered: return "m=(E C_r+E C_f)/2; D: ½[E f₁(C_r−m) + E f₂(C_f−m)]; G: ½[E f₂(C_r−m) + E f₁(C_f−m)]; \(fs)"
            case .allPairs: return "over all pairs i,j: D: E f₁(C_r,i−C_f,j); G: E f₁(C_f,j−C_r,i); \(fs)"
            }
        }
    }

    /// A one-line description of a penalty suffix.
    public static func describe(_ penalty: PenaltyKind) -> String {
        switch penalty {
        case .gradient: return "+ gp_weight·E(‖∇C(x̂)‖−1)², x̂ = u·x_r + (1−u)·x_f, u ~ U(0,1) per sample"
        case .lipschitz: return "+ lp_weight·E max(0, ‖∇C(x̂)‖−1)², x̂ as for GP"
        case .r1: return "+ (r1_weight/2)·E‖∇C(x_r)‖²"
        case .dragan: return "+ dragan_weight·E(‖∇C(x̂)‖−1)², x̂ = clip(x_r + α·0.5·std(x_r)·ε, −1, 1), ε ~ U(0,1), α ~ U(−1,1) per sample"
        }
    }
}
