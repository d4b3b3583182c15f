// MARK: - Step inputs and results

/// One input of a training iteration, by name, as the configuration declares it: `real`, the latents `z` and `z_g`,
/// and the random inputs of the loss's penalties (`PenaltyKind.randomInputs`). The C ABI and Python pass inputs as
/// named arrays and list these declarations (`sg_gan_step_inputs`); none of them names a loss or a penalty.
public struct StepInputSpec {
    public let name: String
    public let meaning: String
    /// One entry's shape in words (B the batch, B' the critic's batch: B / pack).
    public let shapeText: String
    /// Whether each critic step takes its own entry (an array may then carry a leading `n_critic` axis).
    public let perCriticStep: Bool
    /// The rank of one entry.
    let entryRank: Int
    /// Latents, which may carry two more trailing axes of 1, as PyTorch's DCGAN examples draw them.
    var isLatent = false
}

/// The data and (optionally) the random inputs of one training iteration, by name. Random inputs not given are
/// drawn from the trainer's stream; giving them replays a step exactly.
public struct StepInputs {
    /// One real batch `[B, ...sample]` per critic step, or a single batch reused by every step.
    public var real: [Tensor]
    /// The inputs given besides `real`, by name: one entry per critic step (or one for `z_g`).
    public var given: [String: [Tensor]]

    public init(real: [Tensor], _ given: [String: [Tensor]] = [:]) {
        self.real = real
        self.given = given
    }
}

/// What one training iteration reports.
public struct StepStats: Equatable {
    /// The discriminator's loss of the last critic step, penalties included.
    public var discriminatorLoss: Float
    /// The generator's loss.
    public var generatorLoss: Float
    /// E C(x_r) and E C(x_f) of the last critic step.
    public var criticReal: Float
    public var criticFake: Float
    /// The sum of the penalties of the last critic step (0 without any).
    public var penalty: Float
    /// BEGAN's equilibrium coefficient k after this iteration, and its convergence measure M_global (0 otherwise).
    public var k: Float = 0
    public var mGlobal: Float = 0
    /// The last critic step's adversarial loss as its term on real samples and its term on fake ones (they sum
    /// to the loss without penalties); NaN for the paired and all-pairs relativistic losses, which have one term.
    public var discriminatorLossReal: Float = .nan
    public var discriminatorLossFake: Float = .nan
    /// Iterations so far whose non-finite update was skipped (`non_finite = skip`).
    public var skippedSteps: Float = 0

    /// The statistics in the order the C ABI writes them (`SG_STAT_*` in swiftgan.h), with their names and
    /// meanings: the one list that Python's step results, `metrics.csv` and TensorBoard follow.
    public static let fields: [(name: String, meaning: String, value: (StepStats) -> Float)] = [
        ("d_loss", "the last critic step's loss, penalties included", { $0.discriminatorLoss }),
        ("g_loss", "the generator's loss", { $0.generatorLoss }),
        ("d_real", "the mean critic output on real data (reconstruction energy for EBGAN and BEGAN)", { $0.criticReal }),
        ("d_fake", "the mean critic output on fake data (reconstruction energy for EBGAN and BEGAN)", { $0.criticFake }),
        ("penalty", "the last critic step's penalties", { $0.penalty }),
        ("k", "BEGAN's equilibrium coefficient k_t after the step (0 otherwise)", { $0.k }),
        ("m_global", "BEGAN's convergence measure M_global (0 otherwise)", { $0.mGlobal }),
        ("d_loss_real", "the critic loss's term on real data (NaN for paired and all-pairs relativistic losses)",
         { $0.discriminatorLossReal }),
        ("d_loss_fake", "the critic loss's term on fake data (NaN for paired and all-pairs relativistic losses)",
         { $0.discriminatorLossFake }),
        ("skipped_steps", "iterations so far whose non-finite update was skipped (non_finite=skip)", { $0.skippedSteps }),
    ]

    /// The statistics in `fields` order.
    public var values: [Float] { Self.fields.map { $0.value(self) } }

    public static func == (a: StepStats, b: StepStats) -> Bool {
        zip(a.values, b.values).allSatisfy { $0.bitPattern == $1.bitPattern }
    }
}

// MARK: - Trainer

/// A generator, a discriminator, their optimizers and one random stream: runs training
/// iterations (`criticSteps` D steps, then one G step).
public final class GANTrainer {
    public let config: GANConfig
    public let generator: Module
    public let discriminator: Module
    public let optimizerD: Optimizer
    public let optimizerG: Optimizer
    /// The trainer's random stream (noise, penalty inputs, samples).
    public var rng: RandomGenerator
    /// Completed iterations.
    public var iteration = 0
    /// BEGAN's equilibrium coefficient k_t and its `began` learning-rate schedule's state.
    public var equilibrium = Equilibrium()
    /// Iterations whose non-finite update was skipped (`non_finite = skip`).
    public var skippedSteps = 0
    /// Keep the gradients of the last D step and G step for inspection (`retainedGradients`).
    public var retainGradients = false
    /// With `retainGradients`, the last gradients by parameter name (`D.main.0.weight`, `G.main.1.bias`).
    public private(set) var retainedGradients: [String: Tensor] = [:]
    /// The names of the trainable parameters, D's then G's (`D.main.0.weight`, ...).
    public let parameterNames: [String]
    /// The ranks this training is spread over (`setCommunicator`); `SingleProcess` by default.
    public private(set) var communicator: any Communicator = SingleProcess()

    let objective: AdversarialObjective
    /// What the objective scores samples with: D's outputs, or its reconstruction energies (EBGAN, BEGAN).
    let critic: Critic
    let parametersD: [Tensor], parametersG: [Tensor]
    /// With `ema_decay` > 0: the moving average of G's state (parameters averaged, buffers copied).
    let emaState: [(String, Tensor)]
    /// The buffers of both networks (`G.…`, `D.…`: batch-norm statistics, spectral-norm vectors), listed once:
    /// what a training step's forward passes change besides the random stream.
    let buffers: [(String, Tensor)]
    /// Whether a critic step differentiates its first penalty before its adversarial term (see
    /// `discriminatorStep`): when no pass of the critic reads what an earlier one wrote (no spectral norm), so
    /// that the order of its passes changes no output or gradient. Settable for the tests, which check that both
    /// orders train to the same bits.
    var penaltyFirst: Bool

    /// The random inputs of the loss's penalties, each once, in the order a critic step draws them.
    let penaltyInputs: [RandomInput]
    /// The inputs a step takes, by name (`real`, the latents, `penaltyInputs`): fixed by the configuration.
    public let stepInputSpecs: [StepInputSpec]

    /// The bytes of both networks' parameters and buffers.
    let networksBytes: Int
    /// The most bytes the buffer pool held during a step beyond what was handed out when it began (the step's
    /// tensors, and the cached buffers of other sizes that stay beside them: all threads'), and its batch.
    private var measuredStep: (batch: Int, bytes: Int)?
    /// The bytes G's and D's forward passes allocate whatever the batch, and for each sample, measured once
    /// (`forwardBytes(batch:)`).
    private var measuredForward: (fixed: Int, perSample: Int)?
    /// A first step's need: this many times its batch's forward allocations, plus three times the networks (their
    /// gradients and the optimizer's temporaries). `MemoryTests` checks it covers every loss and architecture.
    static let stepForwardFactor = 6

    /// Builds both networks from `config` (seeded by `config.seed`).
    public init(config: GANConfig) throws(SwiftGANError) {
        try config.validate()
        if let reason = Precision.unsupportedReason(config.precision) { throw SwiftGANError(reason) }
        self.config = config
        penaltyInputs = Self.penaltyInputs(of: config)
        stepInputSpecs = Self.stepInputSpecs(of: config, penaltyInputs: penaltyInputs)
        objective = config.objective
        var rng = RandomGenerator(seed: config.seed)
        // what the networks, their gradients, the optimizers' moments and the moving average will hold, checked
        // before any of it is allocated
        var counted = rng
        let (_, networkBytes) = try AllocationCount.counting { () throws(SwiftGANError) in
            try config.architecture.makeNetworks(config.networkOptions, rng: &counted)
        }
        let slots = 2 + (config.optimizer == .adam ? 2 : config.optimizer == .rmsprop ? 1 : 0) + (config.emaDecay > 0 ? 1 : 0)
        let what = "building the networks (\(config.architecture.rawValue): \(MemoryBudget.format(networkBytes)) of "
            + "parameters and buffers, \(slots) copies with gradients and optimizer state)"
        try MemoryBudget.require(networkBytes * slots, for: what)
        networksBytes = networkBytes
        (generator, discriminator) = try config.architecture.makeNetworks(config.networkOptions, rng: &rng)
        critic = try Critic(discriminator, for: objective)
        self.rng = rng
        parametersD = discriminator.namedParameters.map { $0.1 }
        parametersG = generator.namedParameters.map { $0.1 }
        parameterNames = discriminator.namedParameters.map { "D.\($0.0)" } + generator.namedParameters.map { "G.\($0.0)" }
        func make(_ params: [Tensor], _ lr: Float, _ betas: (Float, Float)) -> Optimizer {
            switch config.optimizer {
            case .sgd: return SGD(learningRate: lr)
            case .rmsprop: return RMSprop(parameters: params, learningRate: lr, alpha: config.rmspropAlpha, eps: config.eps)
            case .adam: return Adam(parameters: params, learningRate: lr, beta1: betas.0, beta2: betas.1, eps: config.eps)
            }
        }
        optimizerD = make(parametersD, config.learningRateD, config.betasD)
        optimizerG = make(parametersG, config.learningRateG, config.betasG)
        buffers = generator.namedBuffers.map { ("G.\($0.0)", $0.1) } + discriminator.namedBuffers.map { ("D.\($0.0)", $0.1) }
        penaltyFirst = !discriminator.passesDependOnOrder
        emaState = config.emaDecay > 0 ? generator.namedState.map { ("ema.G.\($0.0)", $0.1.copy()) } : []
    }

    /// The shape of one training sample (`[C, S, S]` for images).
    public var sampleShape: [Int] { config.sampleShape }

    /// Latents `[n, z]` from the configured distribution.
    func drawLatents(_ n: Int) -> Tensor {
        config.latent == .uniform ? .uniform([n, config.zDim], low: -1, high: 1, rng: &rng) : .normal([n, config.zDim], rng: &rng)
    }

    // MARK: Training

    /// Spreads training over the ranks of `communicator` (data parallel): each rank is given the same whole batch
    /// and random stream, computes on its slice of the batch (rank r: rows r·B/K ..< (r+1)·B/K of the real
    /// batch, the latents and the penalties' inputs, all drawn whole), and the ranks together compute exactly
    /// one step on the whole batch, up to summation order:
    /// - batch norm normalises over the whole batch (`syncBatchNorm2dTraining`, differentiable to any order, so
    ///   gradient penalties through it are exact);
    /// - every statistic that couples samples is over the whole batch: the critic's values are gathered
    ///   (`allGather`) and each loss is computed over all of them on every rank (relativistic means, all-pairs
    ///   terms, BEGAN's k and M_global, EBGAN's pull-away term on the gathered codes), DRAGAN's std is of the whole
    ///   real batch, PacGAN packs before slicing (the critic's batch B / pack must divide among the ranks);
    /// - each update's gradients and the penalties' values are summed over ranks in one all-reduce of one buffer,
    ///   and the non-finite checks read those sums (a NaN or inf on any rank stays one in them), so every rank
    ///   applies the same update or refuses the same iteration;
    /// - a failed collective (a rank died or left) ends the step with its message on every rank, nothing applied.
    /// Weights, optimizer state, buffers and the random stream stay identical on every rank, so any rank's state
    /// is the run's (rank 0 writes it), and a checkpoint resumes under any number of ranks that divides the batch.
    public func setCommunicator(_ communicator: any Communicator) {
        self.communicator = communicator
        let synchronised: (any Communicator)? = communicator.size > 1 ? communicator : nil
        generator.synchronizeBatchNorm(over: synchronised)
        discriminator.synchronizeBatchNorm(over: synchronised)
    }

    /// This rank's rows of a whole batch (the batch itself with one rank). Not differentiable: for inputs.
    func localSlice(_ t: Tensor) -> Tensor {
        communicator.size > 1 ? withoutGradients { localRows(t, over: communicator) } : t
    }

    /// A value per sample of this rank's slice, for the whole batch (the tensor itself with one rank).
    func gathered(_ t: Tensor) -> Tensor { allGather(t, over: communicator) }

    /// Sums `gradients` (in place) and `scalars` over the ranks in one all-reduce of one buffer (nothing with one
    /// rank). A NaN or an infinity on any rank stays one in the sum, so the non-finite checks that follow, on
    /// the same sums on every rank, decide alike everywhere: no rank applies an update another refuses.
    ///
    /// - Returns: the summed scalars.
    func sumOverRanks(_ gradients: [Tensor], scalars: [Float]) -> [Float] {
        guard communicator.size > 1 else { return scalars }
        // from the pool, so that a step's measured peak (`stepMemoryNeed`) counts it
        let buffer = Tensor(uninitialized: [gradients.reduce(0) { $0 + $1.count } + scalars.count])
        var offset = 0
        for g in gradients {
            (buffer.pointer + offset).update(from: g.pointer, count: g.count)
            offset += g.count
        }
        for (i, v) in scalars.enumerated() { buffer.pointer[offset + i] = v }
        communicator.allReduce(UnsafeMutableBufferPointer(start: buffer.pointer, count: buffer.count), .sum)
        offset = 0
        for g in gradients {
            g.assign(from: buffer.pointer + offset)
            offset += g.count
        }
        return (0..<scalars.count).map { buffer.pointer[offset + $0] }
    }

    /// Runs one iteration with `real` batches and any explicit inputs by name (`z`: one entry per critic step).
    public func trainStep(real: [Tensor], _ given: [String: [Tensor]] = [:]) throws(SwiftGANError) -> StepStats {
        try trainStep(StepInputs(real: real, given))
    }

    /// Latents `[..., z, 1, 1]`, as PyTorch's DCGAN examples draw them (`torch.randn(B, nz, 1, 1)`), as `[..., z]`.
    func flatLatents(_ z: Tensor) -> Tensor {
        guard z.shape.count >= 3, z.shape.suffix(2) == [1, 1] else { return z }
        return Tensor(shape: Array(z.shape.dropLast(2)), storage: z.storage)
    }

    /// The random inputs of `config`'s penalties, each once, in the order they are drawn.
    static func penaltyInputs(of config: GANConfig) -> [RandomInput] {
        var seen = Set<String>()
        return PenaltyKind.allCases.filter(config.loss.penalties.contains).flatMap(\.randomInputs)
            .filter { seen.insert($0.name).inserted }
    }

    /// The inputs a step of `config` takes, by name.
    static func stepInputSpecs(of config: GANConfig, penaltyInputs: [RandomInput]) -> [StepInputSpec] {
        var specs = [StepInputSpec(name: "real", meaning: "real samples in [-1, 1] (required)", shapeText: "[B, sample]",
                                   perCriticStep: true, entryRank: config.sampleShape.count + 1),
                     StepInputSpec(name: "z", meaning: "the critic steps' latents", shapeText: "[B, z_dim]",
                                   perCriticStep: true, entryRank: 2, isLatent: true)]
        if !config.reuseFake {
            specs.append(StepInputSpec(name: "z_g", meaning: "the generator step's latents", shapeText: "[B, z_dim]",
                                       perCriticStep: false, entryRank: 2, isLatent: true))
        }
        return specs + penaltyInputs.map {
            StepInputSpec(name: $0.name, meaning: $0.meaning, shapeText: $0.shapeText, perCriticStep: true,
                          entryRank: $0.shape([1] + config.criticShape).count)
        }
    }

    /// The refusal of an input `name` this configuration does not take, naming the penalties that draw it.
    private func notAnInput(_ name: String, _ specs: [StepInputSpec]) -> SwiftGANError {
        if name == "z_g" && config.reuseFake {
            return SwiftGANError("z_g is not an input when reuse_fake is set: the generator step reuses the last critic "
                                 + "step's fake batch")
        }
        let penalties = PenaltyKind.allCases.filter { $0.randomInputs.contains { $0.name == name } }
        let whose = penalties.isEmpty ? "" : " (it is drawn by the penalties " + penalties.map { "-" + $0.rawValue }.joined(separator: ", ") + ")"
        return SwiftGANError("\(name) is not an input of loss \(config.loss.name)\(whose); a step of this GAN takes "
                             + specs.map(\.name).joined(separator: ", "))
    }

    /// A step's inputs from named arrays in the API's shapes, as the C ABI and Python pass them: each shaped as one
    /// critic step's entry, or (for per-step inputs) with a leading `n_critic` axis (`z` `[B, z_dim]` or
    /// `[n_critic, B, z_dim]`; latents may also end in `1, 1`). The arrays are split per critic step; `trainStep`
    /// checks every shape.
    ///
    /// - Throws: `SwiftGANError` for a name this configuration does not take (naming those it takes), a name given
    ///   twice, or no `real`.
    public func stepInputs(_ named: [(String, Tensor)]) throws(SwiftGANError) -> StepInputs {
        let specs = stepInputSpecs
        var real: [Tensor]?, given: [String: [Tensor]] = [:]
        for (name, array) in named {
            guard let spec = specs.first(where: { $0.name == name }) else { throw notAnInput(name, specs) }
            guard real == nil || name != "real", given[name] == nil else { throw SwiftGANError("\(name) is given twice") }
            let t = spec.isLatent ? flatLatents(array) : array
            let entries: [Tensor]
            if spec.perCriticStep && t.shape.count == spec.entryRank + 1 {
                let entry = Array(t.shape.dropFirst()), size = entry.reduce(1, *)
                entries = (0..<t.shape[0]).map { i in
                    let e = Tensor(uninitialized: entry)
                    e.assign(from: t.pointer + i * size)
                    return e
                }
            } else {
                entries = [t]
            }
            if name == "real" { real = entries } else { given[name] = entries }
        }
        guard let real else { throw SwiftGANError("real is required") }
        return StepInputs(real: real, given)
    }

    /// Runs one iteration: `criticSteps` discriminator steps, then one generator step.
    ///
    /// - Throws: `SwiftGANError` naming the input when a shape does not fit the configuration
    ///   or an input is given that the configuration does not use. Nothing changes then.
    public func trainStep(_ inputs: StepInputs) throws(SwiftGANError) -> StepStats {
        try Precision.using(config.precision) { () throws(SwiftGANError) in try runStep(inputs) }
    }

    private func runStep(_ inputs: StepInputs) throws(SwiftGANError) -> StepStats {
        let k = config.criticSteps, real = inputs.real
        let batchShape = "[N, \(sampleShape.map(String.init).joined(separator: ", "))]"
        let expected = k > 1 ? "\(batchShape) or [\(k), N, \(sampleShape.map(String.init).joined(separator: ", "))]" : batchShape
        guard real.count == 1 || real.count == k, let b = real[0].shape.first, real.allSatisfy({ $0.shape == [b] + sampleShape })
        else {
            let given = real.count == 1 ? real[0].shape : [real.count] + (real.first?.shape ?? [])
            throw SwiftGANError("real must have shape \(expected), got \(given)")
        }
        guard b >= 2 else { throw SwiftGANError("real must hold at least 2 samples per batch, got \(b)") }
        let m = config.pack, packed = b / m  // the critic's batch: packed samples of m each
        guard b % m == 0, packed >= 2 else {
            throw SwiftGANError("real must hold a multiple of pack = \(m) samples per batch, at least \(2 * m) (the critic "
                                + "judges \(m) at a time), got \(b)")
        }
        let ranks = communicator.size
        guard packed % ranks == 0, packed / ranks >= 2 else {
            throw SwiftGANError("real must hold the whole batch, \(ranks) × pack = \(m) × at least 2 samples and a "
                                + "multiple of \(ranks * m) (each of the \(ranks) ranks takes an equal slice of the "
                                + "critic's batch of packs of \(m)), got \(b)")
        }
        let specs = stepInputSpecs
        if let unknown = inputs.given.keys.sorted().first(where: { name in !specs.contains { $0.name == name } }) {
            throw notAnInput(unknown, specs)
        }
        try checkList(inputs.given["z"], "z", count: k, shape: [b, config.zDim])
        try checkList(inputs.given["z_g"], "z_g", count: 1, shape: [b, config.zDim])
        // the penalties act on what the critic judges: one entry per packed sample
        for input in penaltyInputs {
            try checkList(inputs.given[input.name], input.name, count: k, shape: input.shape([packed] + config.criticShape))
        }

        let local = b / ranks  // this rank's samples
        try MemoryBudget.require(stepMemoryNeed(batch: local), for: "a training step on a batch of \(local)")
        // The optimizers' state is made before the first step's graphs, not at its first update amid them:
        // measured peak RSS, ResNet-64×3 WGAN-GP at batch 16 951 → 876 MB, BEGAN-64×3 487 → 478 MB, the other
        // rows of the benchmark 0–2 MB lower. (A GAN that only samples still never holds it.)
        optimizerD.makeState()
        optimizerG.makeState()
        let base = BufferPool.shared.resetPeak()
        defer { recordStepPeak(batch: local, base: base) }

        let factor = learningRateFactor
        let before = IterationStart(self, defersCriticState: k == 1)
        var stats = StepStats(discriminatorLoss: 0, generatorLoss: 0, criticReal: 0, criticFake: 0, penalty: 0)
        var lastFake: Tensor?
        // Every rank draws the whole batch's random inputs (the same stream) and computes on its slice.
        for step in 0..<k {
            let whole = pack(real[real.count == 1 ? 0 : step])
            let x = localSlice(whole)
            let z = localSlice(inputs.given["z"]?[step] ?? drawLatents(b))
            let keepGraph = config.reuseFake && step == k - 1
            let fake = pack(keepGraph ? generator(z) : withoutGradients { generator(z) })
            if keepGraph { lastFake = fake }
            var drawn = PenaltyInputs(draganClip: config.draganClip)
            for input in penaltyInputs {
                drawn.values[input.name] = localSlice(inputs.given[input.name]?[step]
                                                      ?? input.draw(criticBatch: whole.shape, rng: &rng))
            }
            if ranks > 1 && config.loss.penalties.contains(.dragan) {
                drawn.realStandardDeviation = sampleStandardDeviation(whole)
            }
            let (critic, nonFinite) = discriminatorStep(real: x, fake: fake.detached(), penaltyInputs: drawn,
                                                        learningRateFactor: factor, iterationStart: before)
            stats = critic
            if let failure = communicator.failure { return try refuse(collective: failure, restoring: before) }
            if let nonFinite {
                return try refuse(nonFinite, in: k > 1 ? "critic step \(step + 1) of \(k)" : "the critic step",
                                  stats: stats, restoring: before)
            }
        }

        let x = localSlice(pack(real[real.count == 1 ? 0 : k - 1]))
        let fake = lastFake ?? pack(generator(localSlice(inputs.given["z_g"]?[0] ?? drawLatents(b))))
        let criticReal = objective.generatorUsesReal ? withoutGradients { gathered(critic(x)) } : nil
        let lossG = objective.generatorLoss(critic: critic, criticReal: criticReal, fake: fake, gathering: gathered)
        let gradsG = gradients(of: lossG, wrt: parametersG, retainGraph: false)
        stats.generatorLoss = lossG.scalar
        _ = sumOverRanks(gradsG, scalars: [])
        retain(gradsG, names: parameterNames.suffix(parametersG.count))
        if let failure = communicator.failure { return try refuse(collective: failure, restoring: before) }
        if let nonFinite = nonFiniteTerm(loss: ("the generator's loss", stats.generatorLoss), optimizer: optimizerG,
                                         parameters: parametersG, gradients: gradsG, names: parameterNames.suffix(parametersG.count),
                                         learningRateFactor: factor)
            ?? nonFiniteBuffer() {
            return try refuse(nonFinite, in: "the generator step", stats: stats, restoring: before)
        }
        before.completeCriticUpdate(self)
        optimizerG.step(parametersG, gradsG, learningRateFactor: factor)
        updateMovingAverage()
        let schedule = config.lrSchedule == .began ? (patience: config.lrStep, factor: config.lrGamma) : nil
        if let (k, mGlobal) = objective.endIteration(&equilibrium, criticReal: stats.criticReal,
                                                     generatorLoss: stats.generatorLoss, schedule: schedule) {
            (stats.k, stats.mGlobal) = (k, mGlobal)
        }
        iteration += 1
        stats.skippedSteps = Float(skippedSteps)
        return stats
    }

    // MARK: Memory

    /// What a step on a batch of `b` needs at most: the peak measured on an earlier step scaled up to `b`, or,
    /// before any step, `stepForwardFactor` times the batch's forward allocations plus three times the networks.
    /// A step's tensors are a fixed part plus one per sample, so b / b₀ ≥ 1 times a measured peak bounds them; the
    /// pool's blocks, cut from one arena, may split differently at another batch (hence 2 b / b₀, a margin for that:
    /// the pool's peak was 1.01–1.10 times the most handed out at once on the benchmark's rows).
    public func stepMemoryNeed(batch b: Int) -> Int {
        if let (batch, bytes) = measuredStep {
            return b <= batch ? bytes : Int((2 * Double(bytes) * Double(b) / Double(batch)).rounded(.up))
        }
        return Self.stepForwardFactor * forwardBytes(batch: b) + 3 * networksBytes
    }

    private func recordStepPeak(batch b: Int, base: Int) {
        let bytes = BufferPool.shared.peakBytes - base
        if let (batch, known) = measuredStep, batch >= b, known >= bytes { return }
        measuredStep = (b, bytes)
    }

    /// The bytes G's and D's forward passes allocate for a batch of `b` (every tensor, none reused): a part that
    /// does not grow with the batch (a spectrally normalised weight, a layer's weights in another layout) plus one
    /// per sample, measured once, on batches of one and two (of `pack` samples each) of zero latents in evaluation
    /// mode, which changes no state. (Counting it all per sample, as from one batch of one, would take a 2-million-
    /// weight critic's normalised copies 64 times over at a batch of 64.)
    public func forwardBytes(batch b: Int) -> Int {
        if measuredForward == nil {
            let m = config.pack
            func taken(_ n: Int) -> Int {
                let before = BufferPool.shared.takenBytes
                withoutGradients { _ = critic(pack(generator(Tensor.zeros([n * m, config.zDim])))) }
                return BufferPool.shared.takenBytes - before
            }
            generator.setTraining(false)
            discriminator.setTraining(false)
            let (one, two) = (taken(1), taken(2))
            generator.setTraining(true)
            discriminator.setTraining(true)
            // The pool's capacities only grow with the batch, so two ≥ one; both parts stay ≥ 0.
            let perGroup = max(two - one, 0)
            measuredForward = (fixed: max(one - perGroup, 0), perSample: (perGroup + m - 1) / m)
        }
        let (fixed, perSample) = measuredForward!
        return fixed + b * perSample
    }

    /// The factor the schedule applies to both learning rates in this iteration: BEGAN's (`lr_schedule` began,
    /// which follows its convergence measure) or the configuration's at this iteration. Each optimizer keeps its
    /// learning rate from the configuration; a step scales it by this.
    public var learningRateFactor: Float {
        config.lrSchedule == .began ? equilibrium.learningRateFactor : config.learningRateFactor(at: iteration)
    }

    /// A batch `[N, C, ...]` as the critic sees it: `[N / pack, pack · C, ...]`, each `pack` consecutive samples
    /// concatenated along the channels (PacGAN; a reshape, no copy).
    func pack(_ batch: Tensor) -> Tensor {
        let m = config.pack
        guard m > 1 else { return batch }
        return batch.reshaped([batch.shape[0] / m, batch.shape[1] * m] + batch.shape.dropFirst(2))
    }

    /// One critic update on a real and a (constant) fake batch, then weight clipping if configured.
    ///
    /// The loss is the adversarial term plus the penalties; its gradient is taken term by term (the gradient
    /// of a sum, summed), each term's graph freed before the next is built, so the step holds one term's
    /// graph at a time rather than all of them. When the order of the critic's passes changes none of their
    /// outputs (no spectral norm: `penaltyFirst`), the first penalty, whose double backprop is a step's largest
    /// graph, is differentiated before the adversarial term, so that its graph is not held beside the adversarial
    /// term's gradients; the sums are the same, to the bit, and the running statistics of the critic's batch norms
    /// move in PyTorch's order, the penalty's updates held back until the adversarial term's passes have run.
    ///
    /// - Returns: the step's statistics, and the first term that was not finite (then nothing was applied).
    ///
    /// On a rank of several, `real`, `fake` and `penaltyInputs` are this rank's slices: the losses are over the
    /// gathered critic values, the penalties' means over the whole batch, and the gradients summed over ranks.
    func discriminatorStep(real: Tensor, fake: Tensor, penaltyInputs: PenaltyInputs,
                           learningRateFactor factor: Float,
                           iterationStart: IterationStart) -> (StepStats, nonFinite: String?) {
        let ranks = communicator.size
        // the value and gradients of one penalty; a rank's share of the whole batch's mean: its slice's mean over
        // the (equal) slices
        func penaltyTerm(_ kind: PenaltyKind) -> (value: Float, gradients: [Tensor]) {
            let slice = penalty(kind, weight: config.penaltyWeights[kind]!, critic: { self.discriminator($0) },
                                real: real, fake: fake, inputs: penaltyInputs)
            let term = ranks > 1 ? slice * (1 / Float(ranks)) : slice
            return (term.scalar, gradients(of: term, wrt: parametersD, retainGraph: false))
        }
        var firstPenalty: (value: Float, gradients: [Tensor])?, penaltyStatistics: DeferredRunningStatistics?
        if penaltyFirst, let kind = config.loss.penalties.first {
            (firstPenalty, penaltyStatistics) = DeferredRunningStatistics.deferring { penaltyTerm(kind) }
        }
        let criticReal: Tensor, criticFake: Tensor, terms: (real: Tensor, fake: Tensor)?, adversarial: Tensor
        var gradsD: [Tensor]
        if let separate = objective.separateDiscriminatorTerms(k: equilibrium.k) {
            // The real batch's term is differentiated (and its graph freed) before the critic judges the fake
            // batch: one critic graph at a time. Each parameter's gradient is the sum of its two terms', which the
            // backward pass of their sum adds up too.
            criticReal = gathered(critic(real))
            let termReal = separate.real(criticReal)
            let gradsReal = gradients(of: termReal, wrt: parametersD, retainGraph: false)
            criticFake = gathered(critic(fake))
            let termFake = separate.fake(criticFake)
            gradsD = zip(gradsReal, gradients(of: termFake, wrt: parametersD, retainGraph: false)).map { $0 + $1 }
            terms = (termReal, termFake)
            adversarial = withoutGradients { termReal + termFake }  // discriminatorLoss
        } else {
            criticReal = gathered(critic(real))
            criticFake = gathered(critic(fake))
            terms = objective.discriminatorLossTerms(real: criticReal, fake: criticFake, k: equilibrium.k)
            adversarial = terms.map { $0.real + $0.fake }  // discriminatorLoss, keeping its two terms
                ?? objective.discriminatorLoss(real: criticReal, fake: criticFake, k: equilibrium.k)
            gradsD = gradients(of: adversarial, wrt: parametersD, retainGraph: false)
        }
        penaltyStatistics?.apply()
        var penaltyValues: [Float] = []
        for kind in config.loss.penalties {
            let (value, termGrads) = firstPenalty ?? penaltyTerm(kind)
            firstPenalty = nil
            penaltyValues.append(value)
            gradsD = zip(gradsD, termGrads).map { $0 + $1 }
        }
        penaltyValues = sumOverRanks(gradsD, scalars: penaltyValues)
        let penaltyTotal = penaltyValues.reduce(0, +)
        let termValues = [("the critic's loss (\(objective.name))", adversarial.scalar)]
            + zip(config.loss.penalties, penaltyValues).map { ("the \($0.rawValue) penalty", $1) }
        let stats = StepStats(discriminatorLoss: adversarial.scalar + penaltyTotal, generatorLoss: 0,
                              criticReal: criticReal.mean().scalar, criticFake: criticFake.mean().scalar, penalty: penaltyTotal,
                              discriminatorLossReal: terms?.real.scalar ?? .nan, discriminatorLossFake: terms?.fake.scalar ?? .nan,
                              skippedSteps: Float(skippedSteps))
        retain(gradsD, names: parameterNames.prefix(parametersD.count))
        guard communicator.failure == nil else { return (stats, nil) }  // the caller refuses the iteration
        let names = parameterNames.prefix(parametersD.count)
        if let nonFinite = termValues.lazy.compactMap({ (term, value) in value.isFinite ? nil : "\(term) (\(value))" }).first
            ?? nonFiniteTerm(loss: nil, optimizer: optimizerD, parameters: parametersD, gradients: gradsD, names: names,
                             learningRateFactor: factor)
            ?? nonFiniteBuffer() {
            return (stats, nonFinite)
        }
        iterationStart.updateCritic(of: self, gradients: gradsD, learningRateFactor: factor)
        if config.clip > 0 {
            let c = config.clip
            for p in parametersD { for j in 0..<p.count { p.pointer[j] = Swift.min(Swift.max(p.pointer[j], -c), c) } }
        }
        return (stats, nil)
    }

    // MARK: Non-finite steps

    /// The first of a step's loss, gradients and update that is not finite, described for a person; nil when
    /// all are finite. The update is checked with `firstNonFiniteUpdate` (the optimizer's arithmetic, read-only).
    func nonFiniteTerm<C: Collection>(loss: (String, Float)?, optimizer: Optimizer, parameters: [Tensor], gradients: [Tensor],
                                      names: C, learningRateFactor factor: Float) -> String? where C.Element == String {
        if let (term, value) = loss, !value.isFinite { return "\(term) (\(value))" }
        guard let i = optimizer.firstNonFiniteUpdate(parameters, gradients, learningRateFactor: factor) else { return nil }
        let name = Array(names)[i], g = gradients[i].pointer
        return allFinite(g, count: gradients[i].count)
            ? "the update of \(name) (it overflows: the learning rate is too high for its gradient)"
            : "the gradient of \(name)"
    }

    /// The first buffer the forward passes updated (batch-norm running statistics, spectral-norm vectors) that
    /// holds a non-finite value, described; nil when all are finite. Buffers are small: this costs little.
    func nonFiniteBuffer() -> String? {
        buffers.first { !allFinite($0.1.pointer, count: $0.1.count) }.map { "\($0.0), a buffer the forward pass updated," }
    }

    /// Ends an iteration whose `term` was not finite: everything the iteration changed (the critic's updates of
    /// earlier critic steps, its optimizer's state, both networks' buffers, the random stream) is put back, then the
    /// divergence is raised or (non_finite=skip) the iteration is counted as skipped.
    private func refuse(_ term: String, in phase: String, stats: StepStats,
                        restoring before: IterationStart) throws(SwiftGANError) -> StepStats {
        before.restore(self)
        switch config.nonFinite {
        case .raise:
            throw SwiftGANError("iteration \(iteration + 1), \(phase): \(term) is not finite; nothing of this iteration "
                                + "was applied. Try lower learning "
                                + "rates (lr_d, lr_g), a gradient penalty (e.g. loss \(objective.name)-GP), inputs in [-1, 1], or "
                                + "non_finite=skip", kind: .diverged)
        case .skip:
            skippedSteps += 1
            iteration += 1
            var skipped = stats
            skipped.skippedSteps = Float(skippedSteps)
            return skipped
        }
    }

    /// Ends an iteration during which a collective failed (a rank died or left): everything it changed is put back
    /// and the failure, which names the rank, is thrown on this rank as on the others.
    private func refuse(collective failure: String, restoring before: IterationStart) throws(SwiftGANError) -> StepStats {
        before.restore(self)
        throw SwiftGANError("iteration \(iteration + 1) was not applied: \(failure)", invalidArgument: false)
    }

    /// `ema ← decay·ema + (1 − decay)·p` for G's parameters; buffers (BN statistics) are copied.
    func updateMovingAverage() {
        guard !emaState.isEmpty else { return }
        let decay = config.emaDecay
        let trainable = Set(generator.namedParameters.map { ObjectIdentifier($0.1) })
        for ((_, current), (_, average)) in zip(generator.namedState, emaState) {
            let p = current.pointer, e = average.pointer
            if trainable.contains(ObjectIdentifier(current)) {
                for j in 0..<current.count { e[j] = decay * e[j] + (1 - decay) * p[j] }
            } else {
                e.update(from: p, count: current.count)
            }
        }
    }

    private func retain<C: Collection>(_ grads: [Tensor], names: C) where C.Element == String {
        guard retainGradients else { return }
        for (name, g) in zip(names, grads) { retainedGradients[name] = g.copy() }
    }

    private func checkList(_ list: [Tensor]?, _ name: String, count: Int, shape: [Int]) throws(SwiftGANError) {
        guard let list else { return }
        let expected = count == 1 ? shape : [count] + shape  // one entry per critic step
        guard list.count == count, list.allSatisfy({ $0.shape == shape }) else {
            let given = list.count == 1 ? list[0].shape : [list.count] + (list.first?.shape ?? [])
            throw SwiftGANError("\(name) must have shape \(expected), got \(given)")
        }
    }

    // MARK: Sampling

    /// Latents G turns into samples at a time: memory stays that of one such batch however many samples
    /// are asked for (a fixed size, so the same latents always give the same samples). Measured on DCGAN-64×3,
    /// 10,000 samples: 32 at a time is as fast as 64 (6.71 s against 6.65) in 32 MB less; 16 is slower (7.18 s).
    public static let generationBatch = 32

    /// Samples from explicit latents `[N, z]`, with G in evaluation mode (running BN statistics)
    /// and, when `ema_decay` > 0, with the moving average of its weights.
    public func generate(_ z: Tensor) throws(SwiftGANError) -> Tensor {
        try checkLatents(flatLatents(z))
        let out = Tensor(uninitialized: [z.shape[0]] + sampleShape)
        try generate(z, into: UnsafeMutableBufferPointer(start: out.pointer, count: out.count))
        return out
    }

    private func checkLatents(_ z: Tensor) throws(SwiftGANError) {
        guard z.shape.count == 2, z.shape[1] == config.zDim else {
            throw SwiftGANError("z must have shape [N, \(config.zDim)], got \(z.shape)")
        }
        guard z.shape[0] >= 1 else { throw SwiftGANError("z must hold at least one latent, got 0") }
    }

    /// `generate(z)` written into `out` (`N · sampleShape` floats), `generationBatch` latents at a time.
    /// Latents may also be shaped `[N, z, 1, 1]`.
    public func generate(_ z: Tensor, into out: UnsafeMutableBufferPointer<Float>) throws(SwiftGANError) {
        try Precision.using(config.precision) { () throws(SwiftGANError) in try generateInPrecision(z, into: out) }
    }

    private func generateInPrecision(_ z: Tensor, into out: UnsafeMutableBufferPointer<Float>) throws(SwiftGANError) {
        let z = flatLatents(z)
        try checkLatents(z)
        try checkOutput(out, samples: z.shape[0])
        let rows = min(Self.generationBatch, z.shape[0])
        try MemoryBudget.require(2 * forwardBytes(batch: rows) + networksBytes,
                                 for: "generating \(z.shape[0]) samples (\(rows) at a time)")
        let out = out.baseAddress!
        let state = generator.namedState.map { $0.1 }
        let saved = emaState.isEmpty ? [] : state.map { $0.copy() }
        for (t, (_, average)) in zip(state, emaState) { t.assign(from: average.pointer) }
        generator.setTraining(false)
        defer {
            generator.setTraining(true)
            for (t, original) in zip(state, saved) { t.assign(from: original.pointer) }
        }
        let n = z.shape[0], sampleCount = sampleShape.reduce(1, *)
        var start = 0
        while start < n {
            let rows = min(Self.generationBatch, n - start)
            let latents = Tensor(uninitialized: [rows, config.zDim])
            latents.assign(from: z.pointer + start * config.zDim)
            withoutGradients { generator(latents) }.write(to: out + start * sampleCount)
            start += rows
        }
    }

    /// `n` samples from latents drawn with the trainer's stream.
    public func sample(_ n: Int) throws(SwiftGANError) -> Tensor {
        guard n >= 1 else { throw SwiftGANError("n must be at least 1, got \(n)") }
        return try generate(drawLatents(n))
    }

    /// `sample(n)` written into `out` (`n · sampleShape` floats).
    public func sample(_ n: Int, into out: UnsafeMutableBufferPointer<Float>) throws(SwiftGANError) {
        guard n >= 1 else { throw SwiftGANError("n must be at least 1, got \(n)") }
        try checkOutput(out, samples: n)
        try generate(drawLatents(n), into: out)
    }

    private func checkOutput(_ out: UnsafeMutableBufferPointer<Float>, samples n: Int) throws(SwiftGANError) {
        let size = sampleShape.reduce(1, *)
        guard out.baseAddress != nil, out.count == n * size else {
            throw SwiftGANError("out must hold \(n) × \(size) = \(n * size) floats for \(n) samples of shape \(sampleShape), got \(out.count)")
        }
    }

    // MARK: State

    /// The networks' state in `state_dict` order, keys prefixed `G.` and `D.`.
    public var modelState: [(String, Tensor)] {
        generator.namedState.map { ("G.\($0.0)", $0.1) } + discriminator.namedState.map { ("D.\($0.0)", $0.1) }
    }

    /// Model state followed by the optimizers' state (`optimizer_D.exp_avg.3`, ...) and the moving
    /// average of G (`ema.G.main.0.weight`, ...).
    public var fullState: [(String, Tensor)] {
        modelState + optimizerD.namedState.map { ("optimizer_D.\($0.0)", $0.1) }
            + optimizerG.namedState.map { ("optimizer_G.\($0.0)", $0.1) } + emaState
    }

    /// The names and shapes of `fullState`, without creating optimizer state that does not exist yet.
    public var fullStateInfo: [(name: String, shape: [Int])] {
        modelState.map { ($0.0, $0.1.shape) } + optimizerD.stateInfo.map { ("optimizer_D.\($0.name)", $0.shape) }
            + optimizerG.stateInfo.map { ("optimizer_G.\($0.name)", $0.shape) } + emaState.map { ($0.0, $0.1.shape) }
    }

    /// The trainer's scalar state by name, as text that reads back exactly (floats in their shortest exact
    /// form, `inf` included): the iteration, each optimizer's step count, the four words of the random stream,
    /// BEGAN's k_t and its schedule's factor, best M_global and iterations since the best.
    public var scalars: [(String, String)] { TrainerScalar.all.map { ($0.name, $0.read(self)) } }

    /// Restores scalars by name (any subset of `scalars`); all are parsed first, so an unknown name or a bad
    /// value changes nothing.
    public func setScalars(_ pairs: [(String, String)]) throws(SwiftGANError) {
        var writes: [() -> Void] = []
        for (name, text) in pairs {
            guard let scalar = TrainerScalar.all.first(where: { $0.name == name }) else {
                throw SwiftGANError("unknown trainer scalar '\(name)'; known: \(TrainerScalar.all.map(\.name).joined(separator: ", "))")
            }
            writes.append(try scalar.parse(self, text))
        }
        var words = rngWords  // xoshiro256 never leaves the all-zero state: every draw would be 0
        for (name, text) in pairs where name.hasPrefix("rng.") { words[Int(name.dropFirst(4))!] = UInt64(text)! }
        guard words.contains(where: { $0 != 0 }) else {
            throw SwiftGANError("rng.0 to rng.3 cannot all be 0: that is no state of the random stream (every draw would be 0)")
        }
        writes.forEach { $0() }
    }
}

/// One named scalar of a trainer's state: how it is read as text and parsed back (into a deferred write).
private struct TrainerScalar {
    let name: String
    let read: (GANTrainer) -> String
    let parse: (GANTrainer, String) throws(SwiftGANError) -> () -> Void

    static func integer(_ name: String, _ path: ReferenceWritableKeyPath<GANTrainer, Int>) -> TrainerScalar {
        TrainerScalar(name: name, read: { "\($0[keyPath: path])" }) { (t, text) throws(SwiftGANError) in
            guard let v = Int(text), v >= 0 else { throw SwiftGANError("\(name) must be an integer ≥ 0, got '\(text)'") }
            return { t[keyPath: path] = v }
        }
    }

    /// A float scalar whose values lie in `range` (as the trainer itself keeps them).
    static func float(_ name: String, _ path: ReferenceWritableKeyPath<GANTrainer, Float>, in range: ClosedRange<Float>,
                      _ expected: String) -> TrainerScalar {
        TrainerScalar(name: name, read: { "\($0[keyPath: path])" }) { (t, text) throws(SwiftGANError) in
            guard let v = Float(text), range.contains(v) else {
                throw SwiftGANError("\(name) must be \(expected), got '\(text)'")
            }
            return { t[keyPath: path] = v }
        }
    }

    static func word(_ index: Int) -> TrainerScalar {
        TrainerScalar(name: "rng.\(index)", read: { "\($0.rngWords[index])" }) { (t, text) throws(SwiftGANError) in
            guard let v = UInt64(text) else { throw SwiftGANError("rng.\(index) must be an integer in [0, 2⁶⁴), got '\(text)'") }
            return { t.rngWords[index] = v }
        }
    }

    static let all: [TrainerScalar] = [
        .integer("iteration", \.iteration),
        .integer("optimizer_D.steps", \.optimizerD.stepCount),
        .integer("optimizer_G.steps", \.optimizerG.stepCount),
        .word(0), .word(1), .word(2), .word(3),
        .float("began.k", \.equilibrium.k, in: 0...1, "a number in [0, 1]"),
        .float("began.lr_factor", \.equilibrium.learningRateFactor, in: 0...1, "a number in [0, 1]"),
        .float("began.best_m_global", \.equilibrium.bestMGlobal, in: 0...Float.infinity, "a number ≥ 0 (or inf)"),
        .integer("began.since_best", \.equilibrium.sinceBest),
        .integer("skipped_steps", \.skippedSteps),
    ]
}

/// What an iteration changes before its generator update, copied at its start so that a refused iteration
/// restores all of it: the random stream, both networks' buffers, and the critic's parameters, optimizer state and
/// update count (its critic steps are applied before the generator's step is checked). G's parameters, its
/// optimizer, the moving average and the trainer's counters change only after every check passed.
///
/// An iteration of one critic step (`defersCriticState`) copies the critic's parameters alone: its update writes them
/// (`Optimizer.stepParameters`), the generator step judges with them, and the optimizer's state is written
/// (`completeCriticUpdate`) only once the generator step passed its checks, from the critic's gradients kept until
/// then. The copy and the gradients take two thirds of Adam's whole copy (parameters and both moments), beside the
/// generator step's graphs, where the step's memory peaks: peak RSS over 3 steps (Zen 4, DCGAN-64×3 RaSGAN b64)
/// 252.9 → 246.6 MB in float32, 253.1 → 245.4 MB in bf16, the same bits after 3 steps on 12 configurations. An
/// iteration of several critic steps copies the whole critic state before its first update, as it must.
final class IterationStart {
    let rng: RandomGenerator
    let criticSteps: Int
    /// (live tensor, copy): the buffers (batch-norm statistics, which every forward pass in training mode moves)
    /// from the start; the critic's parameters and optimizer state from right before the iteration's first critic
    /// update, so that their copy is not held beside the critic's graphs, where a step's memory peaks.
    private var tensors: [(Tensor, Tensor)]
    /// Whether the critic's optimizer state waits for the generator step's checks (`completeCriticUpdate`): set for
    /// an iteration of one critic step.
    let defersCriticState: Bool
    /// Whether the critic's state was copied (before its first update of the iteration).
    private var holdsCritic = false
    /// The gradients and learning-rate factor of a critic update whose optimizer state is not yet written.
    private var pendingCriticUpdate: (gradients: [Tensor], factor: Float)?

    init(_ trainer: GANTrainer, defersCriticState: Bool = false) {
        rng = trainer.rng
        criticSteps = trainer.optimizerD.stepCount
        tensors = trainer.buffers.map { ($0.1, $0.1.copy()) }
        self.defersCriticState = defersCriticState
    }

    /// Applies a critic update so that `restore` can undo it. The iteration's first copies what the updates write:
    /// the critic's parameters and optimizer state; or, deferring the state, the parameters alone, and keeps the
    /// gradients for `completeCriticUpdate` (the only update of such an iteration).
    func updateCritic(of trainer: GANTrainer, gradients: [Tensor], learningRateFactor factor: Float) {
        let optimizer = trainer.optimizerD
        if defersCriticState {
            precondition(!holdsCritic, "an iteration that defers the critic's optimizer state makes one critic update")
            tensors += trainer.parametersD.map { ($0, $0.copy()) }
            pendingCriticUpdate = (gradients, factor)
            optimizer.stepParameters(trainer.parametersD, gradients, learningRateFactor: factor)
        } else {
            if !holdsCritic {
                tensors += (trainer.parametersD + optimizer.namedState.map(\.1)).map { ($0, $0.copy()) }
            }
            optimizer.step(trainer.parametersD, gradients, learningRateFactor: factor)
        }
        holdsCritic = true
    }

    /// Writes the optimizer state of the critic update that `updateCritic` deferred (nothing when none is): the
    /// iteration is applied.
    func completeCriticUpdate(_ trainer: GANTrainer) {
        guard let (gradients, factor) = pendingCriticUpdate else { return }
        trainer.optimizerD.commitState(gradients, learningRateFactor: factor)
        pendingCriticUpdate = nil
    }

    func restore(_ trainer: GANTrainer) {
        pendingCriticUpdate = nil
        trainer.rng = rng
        trainer.optimizerD.stepCount = criticSteps
        for (live, copy) in tensors { live.assign(from: copy.pointer) }
    }
}

extension GANTrainer {
    /// The random stream's four state words, by index.
    fileprivate var rngWords: [UInt64] {
        get { [rng.state.0, rng.state.1, rng.state.2, rng.state.3] }
        set { rng.state = (newValue[0], newValue[1], newValue[2], newValue[3]) }
    }
}
