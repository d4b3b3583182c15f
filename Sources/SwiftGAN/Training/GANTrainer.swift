// MARK: - Step inputs and results

/// What one training iteration reports.
public struct StepStats: Equatable {
    /// The discriminator's loss of the last critic step, penalty included.
    public var discriminatorLoss: Float
    /// The generator's loss.
    public var generatorLoss: Float
    /// E C(x_r) and E C(x_f) of the last critic step.
    public var criticReal: Float
    public var criticFake: Float
    /// The gradient penalty of the last critic step (0 without one).
    public var penalty: Float
}

// MARK: - Trainer

/// A generator, a discriminator, their optimizers and one random stream: runs
/// training iterations (`criticSteps` D steps, then one G step).
public final class GANTrainer {
    public let config: GANConfig
    public let generator: DCGANGenerator
    public let discriminator: DCGANDiscriminator
    public let optimizerD: Optimizer
    public let optimizerG: Optimizer
    /// The trainer's random stream (noise, mixing coefficients, samples).
    public var rng: RandomGenerator
    /// Completed iterations.
    public var iteration = 0

    /// Keep the gradients of the last D step and G step for inspection (`retainedGradients`).
    public var retainGradients = false
    /// With `retainGradients`, the last gradients by parameter name (`D.main.0.weight`, `G.main.1.bias`).
    public private(set) var retainedGradients: [String: Tensor] = [:]
    /// The names of the trainable parameters, D's then G's (`D.main.0.weight`, ...).
    public let parameterNames: [String]

    let parametersD: [Tensor], parametersG: [Tensor]

    /// Builds both networks from `config` (seeded by `config.seed`).
    public init(config: GANConfig) throws(SwiftGANError) {
        self.config = config
        var rng = RandomGenerator(seed: config.seed)
        generator = try DCGANGenerator(imageSize: config.imageSize, channels: config.channels, zDim: config.zDim,
                                       width: config.generatorWidth, rng: &rng)
        discriminator = try DCGANDiscriminator(imageSize: config.imageSize, channels: config.channels,
                                               width: config.discriminatorWidth, rng: &rng)
        self.rng = rng
        parametersD = discriminator.namedParameters.map { $0.1 }
        parametersG = generator.namedParameters.map { $0.1 }
        parameterNames = discriminator.namedParameters.map { "D.\($0.0)" } + generator.namedParameters.map { "G.\($0.0)" }
        func make(_ params: [Tensor], _ lr: Float, _ betas: (Float, Float)) -> Optimizer {
            config.optimizer == "sgd"
                ? SGD(learningRate: lr)
                : Adam(parameters: params, learningRate: lr, beta1: betas.0, beta2: betas.1, eps: config.adamEps)
        }
        optimizerD = make(parametersD, config.learningRateD, config.betasD)
        optimizerG = make(parametersG, config.learningRateG, config.betasG)
    }

    /// The shape of one image, `[C, S, S]`.
    public var imageShape: [Int] { [config.channels, config.imageSize, config.imageSize] }

    // MARK: Training

    /// Runs one iteration: `criticSteps` discriminator steps, then one generator step.
    ///
    /// - Parameters:
    ///   - real: one real batch `[B, C, S, S]` per critic step (or a single batch reused by every step).
    ///   - noiseD: optional latents `[B, z]` per critic step (drawn from the trainer's stream when nil).
    ///   - noiseG: optional latents `[B, z]` for the generator step.
    ///   - mixing: optional penalty coefficients `u`, `[B]` per critic step.
    /// - Throws: `SwiftGANError` naming the argument when a shape does not fit the configuration.
    public func trainStep(real: [Tensor], noiseD: [Tensor]? = nil, noiseG: Tensor? = nil,
                          mixing: [Tensor]? = nil) throws(SwiftGANError) -> StepStats {
        let k = config.criticSteps
        guard real.count == 1 || real.count == k else {
            throw SwiftGANError("real must hold 1 or n_critic=\(k) batches, got \(real.count)")
        }
        let b = real[0].shape.first ?? 0
        guard b >= 2 else { throw SwiftGANError("real: a batch needs at least 2 images (batch statistics), got \(b)") }
        for r in real where r.shape != [b] + imageShape {
            throw SwiftGANError("real: expected batches of shape \([b] + imageShape), got \(r.shape)")
        }
        try checkList(noiseD, "noise_d", count: k, shape: [b, config.zDim])
        if let noiseG, noiseG.shape != [b, config.zDim] {
            throw SwiftGANError("noise_g: expected shape \([b, config.zDim]), got \(noiseG.shape)")
        }
        if let noiseG, config.reuseFake {
            _ = noiseG
            throw SwiftGANError("noise_g cannot be given when reuse_fake is set (the G step reuses the D step's fake batch)")
        }
        try checkList(mixing, "mixing", count: k, shape: [b])
        if mixing != nil && !config.loss.gradientPenalty {
            throw SwiftGANError("mixing is only used with a gradient penalty, and loss \(config.loss.name) has none")
        }

        var stats = StepStats(discriminatorLoss: 0, generatorLoss: 0, criticReal: 0, criticFake: 0, penalty: 0)
        var lastFake: Tensor?
        for step in 0..<k {
            let x = real[real.count == 1 ? 0 : step]
            let z = noiseD?[step] ?? Tensor.normal([b, config.zDim], rng: &rng)
            let keepGraph = config.reuseFake && step == k - 1
            let fake = keepGraph ? generator(z) : withoutGradients { generator(z) }
            if keepGraph { lastFake = fake }
            let u = config.loss.gradientPenalty ? (mixing?[step] ?? Tensor.uniform([b], rng: &rng)) : nil
            stats = discriminatorStep(real: x, fake: fake.detached(), mixing: u)
        }

        let x = real[real.count == 1 ? 0 : k - 1]
        let fake = lastFake ?? generator(noiseG ?? Tensor.normal([b, config.zDim], rng: &rng))
        let criticReal = config.loss.loss.generatorUsesReal ? withoutGradients { discriminator(x) } : nil
        let lossG = config.loss.loss.generatorLoss(real: criticReal, fake: discriminator(fake))
        let gradsG = gradients(of: lossG, wrt: parametersG)
        retain(gradsG, names: parameterNames.suffix(parametersG.count))
        optimizerG.step(parametersG, gradsG)
        stats.generatorLoss = lossG.scalar
        iteration += 1
        return stats
    }

    /// One critic update on a real and a (constant) fake batch.
    func discriminatorStep(real: Tensor, fake: Tensor, mixing: Tensor?) -> StepStats {
        let criticReal = discriminator(real)
        let criticFake = discriminator(fake)
        var loss = config.loss.loss.discriminatorLoss(real: criticReal, fake: criticFake)
        var penalty: Float = 0
        if let mixing {
            let gp = gradientPenalty(critic: { self.discriminator($0) }, real: real, fake: fake, mixing: mixing,
                                     weight: config.gradientPenaltyWeight)
            penalty = gp.scalar
            loss = loss + gp
        }
        let gradsD = gradients(of: loss, wrt: parametersD)
        retain(gradsD, names: parameterNames.prefix(parametersD.count))
        optimizerD.step(parametersD, gradsD)
        return StepStats(discriminatorLoss: loss.scalar, generatorLoss: 0,
                         criticReal: criticReal.mean().scalar, criticFake: criticFake.mean().scalar, penalty: penalty)
    }

    private func retain<C: Collection>(_ grads: [Tensor], names: C) where C.Element == String {
        guard retainGradients else { return }
        for (name, g) in zip(names, grads) { retainedGradients[name] = g.copy() }
    }

    private func checkList(_ list: [Tensor]?, _ name: String, count: Int, shape: [Int]) throws(SwiftGANError) {
        guard let list else { return }
        guard list.count == count else { throw SwiftGANError("\(name): expected \(count) entries (one per critic step), got \(list.count)") }
        for t in list where t.shape != shape {
            throw SwiftGANError("\(name): expected entries of shape \(shape), got \(t.shape)")
        }
    }

    // MARK: Sampling

    /// Images from explicit latents `[N, z]`, with G in evaluation mode (running BN statistics).
    public func generate(_ z: Tensor) throws(SwiftGANError) -> Tensor {
        guard z.shape.count == 2, z.shape[1] == config.zDim, z.shape[0] >= 1 else {
            throw SwiftGANError("z: expected shape [N, \(config.zDim)], got \(z.shape)")
        }
        generator.setTraining(false)
        defer { generator.setTraining(true) }
        return withoutGradients { generator(z) }
    }

    /// `n` images from latents drawn from N(0, 1) with the trainer's stream.
    public func sample(_ n: Int) throws(SwiftGANError) -> Tensor {
        guard n >= 1 else { throw SwiftGANError("n must be at least 1, got \(n)") }
        return try generate(Tensor.normal([n, config.zDim], rng: &rng))
    }

    // MARK: State

    /// The networks' state in `state_dict` order, keys prefixed `G.` and `D.`.
    public var modelState: [(String, Tensor)] {
        generator.namedState.map { ("G.\($0.0)", $0.1) } + discriminator.namedState.map { ("D.\($0.0)", $0.1) }
    }

    /// Model state followed by the optimizers' moments (`optimizer_D.exp_avg.3`, ...).
    public var fullState: [(String, Tensor)] {
        modelState + optimizerD.namedState.map { ("optimizer_D.\($0.0)", $0.1) }
            + optimizerG.namedState.map { ("optimizer_G.\($0.0)", $0.1) }
    }

    /// The integer state: iteration, the optimizers' step counts and the four RNG words.
    public var counters: [UInt64] {
        get {
            [UInt64(iteration), UInt64(optimizerD.stepCount), UInt64(optimizerG.stepCount),
             rng.state.0, rng.state.1, rng.state.2, rng.state.3]
        }
        set {
            iteration = Int(newValue[0])
            optimizerD.stepCount = Int(newValue[1])
            optimizerG.stepCount = Int(newValue[2])
            rng.state = (newValue[3], newValue[4], newValue[5], newValue[6])
        }
    }
}
