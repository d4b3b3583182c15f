// MARK: - Adversarial objectives

/// The function a loss applies to critic values, as a pair (f₁, f₂):
/// f₁ pushes its argument up ("more real"), f₂ down ("more fake").
public enum LossFunction: Equatable {
    /// Binary cross-entropy of logits: f₁(v) = softplus(−v) = BCE(v, 1), f₂(v) = softplus(v) = BCE(v, 0).
    case standard
    /// Least squares: f₁(v) = (v − 1)², f₂(v) = (v + 1)².
    case leastSquares
    /// Hinge: f₁(v) = max(0, 1 − v), f₂(v) = max(0, 1 + v).
    case hinge

    func up(_ v: Tensor) -> Tensor {
        switch self {
        case .standard: return softplus(-v)
        case .leastSquares: return square(v - 1)
        case .hinge: return relu(1 - v)
        }
    }

    func down(_ v: Tensor) -> Tensor {
        switch self {
        case .standard: return softplus(v)
        case .leastSquares: return square(v + 1)
        case .hinge: return relu(1 + v)
        }
    }

    var nameStem: String {
        switch self {
        case .standard: return "S"
        case .leastSquares: return "LS"
        case .hinge: return "Hinge"
        }
    }
}

/// How a relativistic discriminator compares real and fake critic values.
public enum Relativism: Equatable, CaseIterable {
    /// Paired (RGAN): C_r − C_f sample by sample.
    case paired
    /// Average (RaGAN): each side against the other side's batch mean.
    case average
    /// Centered (RcGAN): both sides against the mean of the two batch means.
    case centered
    /// Paired over all real–fake pairs (the unbiased RpGAN estimator): C_r,i − C_f,j for every i, j.
    case allPairs

    var prefix: String {
        switch self {
        case .paired: return "R"
        case .average: return "Ra"
        case .centered: return "Rc"
        case .allPairs: return "Rp"
        }
    }
}

/// An adversarial objective: what the discriminator and the generator minimise, from the
/// critic's raw outputs C_r = C(x_r) and C_f = C(x_f) (E is the batch mean).
///
/// Scales follow the relativistic GAN paper's official code (`GAN_losses_iter.py`): the
/// average and centered forms carry ½, the paired forms none; the relativistic-f-divergences
/// code's values are twice these.
///
/// Each case's formulas are written once, in `formula` (which `swiftgan list` shows).
public enum AdversarialObjective: Equatable {
    /// SGAN, non-saturating or (`minimax`) minimax.
    case standard(minimax: Bool)
    /// LSGAN with targets a (fake), b (real), c (G's).
    case leastSquares(a: Float, b: Float, c: Float)
    /// HingeGAN.
    case hinge
    /// WGAN.
    case wasserstein
    /// A relativistic objective with function (f₁, f₂) in one of the forms of `Relativism`; in each form
    /// G's loss is D's with C_r and C_f exchanged.
    case relativistic(LossFunction, Relativism)
    /// EBGAN with margin m and pull-away weight (`Critic.energies`, `pullAwayTerm`).
    case energy(margin: Float, pullAwayWeight: Float)
    /// BEGAN with diversity ratio γ and k's learning rate λ_k (`Equilibrium`).
    case boundaryEquilibrium(gamma: Float, lambdaK: Float)

    /// The losses as formulas, in one line (`swiftgan list`).
    public var formula: String {
        switch self {
        case .standard: return "D: BCE(C_r,1) + BCE(C_f,0); G: BCE(C_f,1) (non-saturating; minimax=True: G: −BCE(C_f,0))"
        case .leastSquares: return "D: E(C_r−b)² + E(C_f−a)²; G: E(C_f−c)² (a, b, c = lsgan_a, lsgan_b, lsgan_c; default 0, 1, 1)"
        case .hinge: return "D: E max(0,1−C_r) + E max(0,1+C_f); G: −E C_f"
        case .wasserstein: return "D: E C_f − E C_r; G: −E C_f (preset: clip ±0.01, RMSprop lr 5e-5, n_critic 5)"
        case .energy:
            return "auto-encoder critic, e(x) = E(x−AE(x))² per sample; D: E e(x_r) + E max(0, m−e(x_f)); "
                + "G: E e(x_f) + pt_weight·PT, PT = Σ_{i≠j} cos²(s_i,s_j)/(N(N−1)) over the codes s of x_f "
                + "(m = ebgan_margin, default 1; pt_weight 0.1); arch autoencoder or mlp"
        case .boundaryEquilibrium:
            return "auto-encoder critic, L(x) = E|x−AE(x)| per sample; D: E L(x_r) − k·E L(x_f); G: E L(x_f); "
                + "k ← clip(k + λ_k(γE L(x_r) − E L(x_f)), 0, 1) (γ = began_gamma 0.5, λ_k = began_lambda_k 0.001); "
                + "reports k and M_global = E L(x_r) + |γE L(x_r) − E L(x_f)|; arch autoencoder or mlp"
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

    /// Whether the critic is an auto-encoder scored by reconstruction energies (EBGAN, BEGAN).
    public var isEnergyBased: Bool {
        switch self {
        case .energy, .boundaryEquilibrium: return true
        default: return false
        }
    }

    /// Whether the generator's loss uses the critic's output on real data.
    public var generatorUsesReal: Bool {
        if case .relativistic = self { return true }
        return false
    }

    /// The discriminator's loss (a scalar) from critic outputs `[N]` on real and fake data (energies for
    /// EBGAN and BEGAN; `k` is BEGAN's equilibrium coefficient).
    public func discriminatorLoss(real: Tensor, fake: Tensor, k: Float = 0) -> Tensor {
        if let terms = discriminatorLossTerms(real: real, fake: fake, k: k) { return terms.real + terms.fake }
        guard case .relativistic(let f, let r) = self else { preconditionFailure("every other objective splits") }
        switch r {
        case .allPairs: return f.up(pairwiseDifferences(real, fake)).mean()
        default: return f.up(real - fake).mean()  // paired
        }
    }

    /// The discriminator's loss as its term on real samples and its term on fake ones, which sum to it (the
    /// "loss D_real" and "loss D_gen" users plot); nil for the paired and all-pairs relativistic forms, whose
    /// loss is one term on both.
    public func discriminatorLossTerms(real: Tensor, fake: Tensor, k: Float = 0) -> (real: Tensor, fake: Tensor)? {
        if let separate = separateDiscriminatorTerms(k: k) { return (separate.real(real), separate.fake(fake)) }
        switch self {
        case .energy, .boundaryEquilibrium, .standard, .leastSquares, .hinge, .wasserstein:
            preconditionFailure("separable, returned above")
        case .relativistic(let f, let r):
            // Halving is exact in floating point, so the halves sum to the loss as (A + B) · 0.5 would.
            switch r {
            case .average: return (f.up(real - fake.mean()).mean() * 0.5, f.down(fake - real.mean()).mean() * 0.5)
            case .centered:
                let m = (real.mean() + fake.mean()) * 0.5
                return (f.up(real - m).mean() * 0.5, f.down(fake - m).mean() * 0.5)
            case .paired, .allPairs: return nil
            }
        }
    }

    /// The discriminator's term on real samples as a function of the critic's outputs on them alone, and its
    /// term on fake ones of theirs alone; nil for the relativistic objectives, whose terms read both. With
    /// them the critic step differentiates one term before it judges the other batch, so that the critic's
    /// graphs of the two batches are never held at once.
    public func separateDiscriminatorTerms(k: Float = 0) -> (real: (Tensor) -> Tensor, fake: (Tensor) -> Tensor)? {
        switch self {
        case .energy(let margin, _): return ({ $0.mean() }, { relu(margin - $0).mean() })
        case .boundaryEquilibrium: return ({ $0.mean() }, { -($0.mean() * k) })
        case .standard: return ({ softplus(-$0).mean() }, { softplus($0).mean() })
        case .leastSquares(let a, let b, _): return ({ square($0 - b).mean() }, { square($0 - a).mean() })
        case .hinge: return ({ relu(1 - $0).mean() }, { relu(1 + $0).mean() })
        case .wasserstein: return ({ -$0.mean() }, { $0.mean() })
        case .relativistic: return nil
        }
    }

    /// The generator's loss (a scalar); `real` may be nil when `generatorUsesReal` is false.
    public func generatorLoss(real: Tensor?, fake: Tensor) -> Tensor {
        switch self {
        case .energy, .boundaryEquilibrium: return fake.mean()
        case .standard(let minimax): return minimax ? -softplus(fake).mean() : softplus(-fake).mean()
        case .leastSquares(_, _, let c): return square(fake - c).mean()
        case .hinge, .wasserstein: return -fake.mean()
        case .relativistic:
            // Every relativistic form is symmetric: G's loss is D's with real and fake exchanged.
            guard let real else { preconditionFailure("a relativistic generator loss needs C(x_r)") }
            return discriminatorLoss(real: fake, fake: real)
        }
    }

    /// The objective's name: SGAN, LSGAN, HingeGAN, WGAN, RSGAN, RaLSGAN, RcHingeGAN, RpSGAN-avg, ...
    public var name: String {
        switch self {
        case .standard: return "SGAN"
        case .leastSquares: return "LSGAN"
        case .hinge: return "HingeGAN"
        case .wasserstein: return "WGAN"
        case .relativistic(let f, let r): return r.prefix + f.nameStem + "GAN" + (r == .allPairs ? "-avg" : "")
        case .energy: return "EBGAN"
        case .boundaryEquilibrium: return "BEGAN"
        }
    }

    /// Every objective, with default parameters.
    public static var all: [AdversarialObjective] {
        [.standard(minimax: false), .leastSquares(a: 0, b: 1, c: 1), .hinge, .wasserstein]
            + Relativism.allCases.flatMap { r in [LossFunction.standard, .leastSquares, .hinge].map { .relativistic($0, r) } }
            + [.energy(margin: 1, pullAwayWeight: 0.1), .boundaryEquilibrium(gamma: 0.5, lambdaK: 0.001)]
    }
}

/// `a_i − b_j` for every pair: `[N]`, `[M]` → `[N, M]`.
func pairwiseDifferences(_ a: Tensor, _ b: Tensor) -> Tensor {
    a.reshaped([a.count, 1]) - b.reshaped([1, b.count])
}
