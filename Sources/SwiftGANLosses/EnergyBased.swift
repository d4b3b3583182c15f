// MARK: - The critic as the objectives see it

/// What scores samples for an objective: the discriminator's outputs, or for the energy-based objectives
/// (EBGAN, BEGAN) the reconstruction energies of an auto-encoder discriminator.
public enum Critic {
    /// The discriminator's raw outputs `[N]`.
    case outputs(Module)
    /// Per-sample reconstruction energies `[N]` of an auto-encoder: mean squared error (`squared`, EBGAN)
    /// or mean absolute error (BEGAN) over each sample's values.
    case energies(AutoEncoder, squared: Bool)

    /// The critic `objective` scores with.
    ///
    /// - Throws: `SwiftGANError` when an energy-based objective is given a discriminator that is not an
    ///   auto-encoder.
    public init(_ discriminator: Module, for objective: AdversarialObjective) throws(SwiftGANError) {
        guard objective.isEnergyBased else {
            self = .outputs(discriminator)
            return
        }
        guard let autoEncoder = discriminator as? AutoEncoder else {
            throw SwiftGANError("loss \(objective.name) needs an auto-encoder critic, got \(type(of: discriminator))")
        }
        if case .energy = objective { self = .energies(autoEncoder, squared: true) } else { self = .energies(autoEncoder, squared: false) }
    }

    /// The critic's values `[N]` on samples `[N, ...]`.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .outputs(let network): return network(x)
        case .energies(let autoEncoder, let squared): return reconstructionEnergy(x, autoEncoder(x), squared: squared)
        }
    }
}

/// Per-sample reconstruction energy `[N]` of samples `[N, ...]`: the mean over each sample's values of
/// (x − x̂)² (`squared`) or |x − x̂|.
func reconstructionEnergy(_ x: Tensor, _ reconstruction: Tensor, squared: Bool) -> Tensor {
    let difference = x - reconstruction
    let pointwise = squared ? square(difference) : abs(difference)
    return pointwise.mean(alongAxes: Array(1..<x.shape.count)).reshaped([x.shape[0]])
}

extension AdversarialObjective {
    /// The generator's loss on fake samples `fake` (the critic runs on them here), given the critic's values
    /// on real data when `generatorUsesReal`. EBGAN adds `pullAwayWeight`·PT of the auto-encoder's codes of
    /// the fake batch (computed with the same encoder pass as their energies).
    ///
    /// `gathering` turns a value per sample of this process's batch into the same for the whole batch (one rank's
    /// slice into every rank's, `allGather`); the loss is then computed over the whole batch, and `criticReal` is
    /// expected over it too.
    public func generatorLoss(critic: Critic, criticReal: Tensor?, fake: Tensor,
                              gathering: (Tensor) -> Tensor = { $0 }) -> Tensor {
        guard case .energy(_, let pullAwayWeight) = self, case .energies(let autoEncoder, let squared) = critic else {
            return generatorLoss(real: criticReal, fake: gathering(critic(fake)))
        }
        let code = autoEncoder.encoder(fake)
        let energies = reconstructionEnergy(fake, autoEncoder.decoder(code), squared: squared)
        return generatorLoss(real: nil, fake: gathering(energies)) + pullAwayTerm(gathering(code.flattened())) * pullAwayWeight
    }
}

/// EBGAN's pull-away term of codes `[N, h]`: the mean squared cosine similarity over pairs i ≠ j,
/// PT = Σ_{i≠j} cos²(s_i, s_j) / (N(N−1)).
public func pullAwayTerm(_ codes: Tensor) -> Tensor {
    let n = codes.shape[0]
    let unit = codes / sqrt(square(codes).sum(alongAxes: [1]))
    let similarity = matmul(unit, unit, transposeB: true)
    let offDiagonal = Tensor.ones([n, n])
    for i in 0..<n { offDiagonal.pointer[i * n + i] = 0 }
    return (square(similarity) * offDiagonal).sum() / Float(n * (n - 1))
}

// MARK: - BEGAN's equilibrium

/// The state BEGAN carries from iteration to iteration: the equilibrium coefficient k_t, and the `began`
/// learning-rate schedule's factor, best M_global and iterations since that best.
public struct Equilibrium: Equatable {
    /// k_t (starts at 0), weighting the fake term of the critic's loss.
    public var k: Float = 0
    /// The factor the `began` schedule applies to both learning rates.
    public var learningRateFactor: Float = 1
    /// The lowest M_global so far, and the iterations since it was reached.
    public var bestMGlobal: Float = .infinity
    public var sinceBest = 0

    public init() {}

    /// After a generator step: k ← clip(k + λ_k(γ·E L(x_r) − E L(x_f)), 0, 1) and
    /// M_global = E L(x_r) + |γ·E L(x_r) − E L(x_f)|, from the critic step's mean real energy and the generator's
    /// loss E L(x_f). With a `schedule` (`patience` iterations, `factor`), the learning-rate factor is multiplied
    /// by `factor` whenever M_global has not improved for `patience` iterations.
    ///
    /// - Returns: k and M_global after the update.
    public mutating func update(gamma: Float, lambdaK: Float, realEnergy: Float, fakeEnergy: Float,
                                schedule: (patience: Int, factor: Float)?) -> (k: Float, mGlobal: Float) {
        let balance = gamma * realEnergy - fakeEnergy
        k = min(max(k + lambdaK * balance, 0), 1)
        let mGlobal = realEnergy + abs(balance)
        if let schedule {
            if mGlobal < bestMGlobal {
                bestMGlobal = mGlobal
                sinceBest = 0
            } else {
                sinceBest += 1
                if sinceBest >= schedule.patience {
                    learningRateFactor *= schedule.factor
                    sinceBest = 0
                }
            }
        }
        return (k, mGlobal)
    }
}

extension AdversarialObjective {
    /// What an objective updates after each generator step: BEGAN its `equilibrium` (see
    /// `Equilibrium.update`), from the critic step's mean real energy and the generator's loss; the other
    /// objectives nothing.
    ///
    /// - Returns: BEGAN's k and M_global after the update; nil for the other objectives.
    public func endIteration(_ equilibrium: inout Equilibrium, criticReal: Float, generatorLoss: Float,
                             schedule: (patience: Int, factor: Float)?) -> (k: Float, mGlobal: Float)? {
        guard case .boundaryEquilibrium(let gamma, let lambdaK) = self else { return nil }
        return equilibrium.update(gamma: gamma, lambdaK: lambdaK, realEnergy: criticReal, fakeEnergy: generatorLoss,
                                  schedule: schedule)
    }
}
