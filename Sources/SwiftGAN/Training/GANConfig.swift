// MARK: - Closed sets of options

public enum OptimizerKind: String, CaseIterable { case adam, rmsprop, sgd }

public enum LatentDistribution: String, CaseIterable { case normal, uniform }

/// What a training iteration does when a loss, a gradient or an update is not finite (NaN or ±inf): throw a
/// `diverged` error (`raise`), or leave the iteration's remaining updates unapplied, count it and go on (`skip`).
/// Either way the non-finite update is never applied.
public enum NonFinitePolicy: String, CaseIterable { case raise, skip }

/// `constant`; `step` (× `lrGamma` every `lrStep` iterations); `linear` (down to 0 at iteration `lrStep`); `began`
/// (× `lrGamma` whenever BEGAN's M_global has not improved for `lrStep` iterations).
public enum LearningRateSchedule: String, CaseIterable { case constant, step, linear, began }

// MARK: - Configuration

/// Everything that defines a GAN experiment: objective, penalties, networks, optimizers, schedule.
///
/// Set from text with `set(_:_:)` or `init(text:)`; a loss's preset (WGAN's clipping, RMSprop and
/// critic steps, WGAN-GP's Adam settings) is applied when the loss is set, before other keys.
public struct GANConfig: Equatable {
    /// The objective and its penalties (`"RaSGAN-GP"`).
    public var loss = try! LossSpec(name: "RaSGAN")
    /// SGAN's generator: minimax instead of non-saturating.
    public var minimax = false
    /// LSGAN's targets: a for fake, b for real, c for the generator.
    public var lsganTargets: (a: Float, b: Float, c: Float) = (0, 1, 1)
    /// Each penalty's weight (λ; γ for R1).
    public var penaltyWeights = Dictionary(uniqueKeysWithValues: PenaltyKind.allCases.map { ($0, $0.defaultWeight) })
    /// EBGAN's margin m and pull-away weight; BEGAN's γ and λ_k; the auto-encoder critic's code size.
    public var ebganMargin: Float = 1
    public var pullAwayWeight: Float = 0.1
    public var beganGamma: Float = 0.5
    public var beganLambdaK: Float = 0.001
    public var autoEncoderCode = 32
    /// DRAGAN clips its perturbed points to [−1, 1], the range of images; off for data in another range.
    public var draganClip = true
    /// Clip every discriminator parameter to ±clip after each D step (0: off; WGAN's preset 0.01).
    public var clip: Float = 0
    /// The network pair.
    public var architecture = Architecture.dcgan
    /// The DCGAN pair's options (SELU, batch norm, upsample + conv, spectral norm).
    public var dcgan = DCGANOptions()
    /// Layer normalisation in the ResNet critic's blocks (the WGAN-GP code's choice with a penalty).
    public var layerNormD = false
    /// Image side (DCGAN); ignored by the MLP.
    public var imageSize = 64
    /// Image channels (DCGAN) or the data dimension (MLP).
    public var channels = 3
    /// PacGAN's packing: the critic judges `pack` samples at once, concatenated along the channels, so a batch of
    /// N samples gives it N / pack packed samples (1: no packing).
    public var pack = 1
    public var zDim = 100
    /// The latent distribution: N(0, 1) or U(−1, 1).
    public var latent = LatentDistribution.normal
    /// Generator width (`ngf`) and discriminator width (`ndf`).
    public var generatorWidth = 64
    public var discriminatorWidth = 64
    public var optimizer = OptimizerKind.adam
    public var learningRateD: Float = 2e-4
    public var learningRateG: Float = 2e-4
    public var betasD: (Float, Float) = (0.5, 0.999)
    public var betasG: (Float, Float) = (0.5, 0.999)
    /// Adam's and RMSprop's ε.
    public var eps: Float = 1e-8
    /// RMSprop's smoothing constant α.
    public var rmspropAlpha: Float = 0.99
    /// Discriminator steps per generator step.
    public var criticSteps = 1
    /// Reuse the last D step's fake batch for the G step instead of drawing fresh noise.
    public var reuseFake = false
    /// The learning-rate schedule: `"constant"`, `"step"` (× `lrGamma` every `lrStep` iterations),
    /// `"linear"` (down to 0 at iteration `lrStep`) or `"began"` (× `lrGamma` whenever BEGAN's M_global has
    /// not improved for `lrStep` iterations).
    public var lrSchedule = LearningRateSchedule.constant
    public var lrStep = 1000
    public var lrGamma: Float = 0.5
    /// Decay of the exponential moving average of G's weights used for sampling (0: off).
    public var emaDecay: Float = 0
    /// What an iteration does when a loss, gradient or update is not finite.
    public var nonFinite = NonFinitePolicy.raise
    /// The precision of convolutions and matrix products (`Precision`): fp32, or bf16 where the processor has it.
    public var precision = Precision.fp32
    public var seed: UInt64 = 1

    public init() {}


    /// The factor the schedule applies to the learning rates at `iteration` (0-based).
    public func learningRateFactor(at iteration: Int) -> Float {
        switch lrSchedule {
        case .step: return Float(pow(Double(lrGamma), Double(iteration / lrStep)))
        case .linear: return max(0, 1 - Float(iteration) / Float(lrStep))
        case .constant, .began: return 1
        }
    }

    /// The objective with this configuration's parameters (minimax, LSGAN targets).
    public var objective: AdversarialObjective {
        switch loss.objective {
        case .standard: return .standard(minimax: minimax)
        case .leastSquares: return .leastSquares(a: lsganTargets.a, b: lsganTargets.b, c: lsganTargets.c)
        case .energy: return .energy(margin: ebganMargin, pullAwayWeight: pullAwayWeight)
        case .boundaryEquilibrium: return .boundaryEquilibrium(gamma: beganGamma, lambdaK: beganLambdaK)
        default: return loss.objective
        }
    }

    /// The shape of one training sample: `[C, S, S]` (DCGAN) or `[channels]` (MLP).
    public var sampleShape: [Int] { architecture == .mlp ? [channels] : [channels, imageSize, imageSize] }
    /// The shape of what the critic judges: `pack` samples concatenated along the channels (PacGAN).
    public var criticShape: [Int] { [sampleShape[0] * pack] + sampleShape.dropFirst() }
    /// The critic's input channels (or, for the MLP, inputs): `channels · pack`.
    public var criticChannels: Int { channels * pack }

    /// What the architecture's registry entry builds the networks from.
    public var networkOptions: NetworkOptions {
        NetworkOptions(imageSize: imageSize, channels: channels, criticChannels: criticChannels, zDim: zDim,
                       generatorWidth: generatorWidth, discriminatorWidth: discriminatorWidth, dcgan: dcgan,
                       layerNormD: layerNormD, autoEncoderCode: autoEncoderCode,
                       autoEncoderCritic: loss.objective.isEnergyBased)
    }

    /// The settings a loss recommends, applied when the loss is set.
    public static func preset(for loss: LossSpec) -> [(String, String)] {
        switch (loss.objective, loss.penalties) {
        case (.wasserstein, []):  // Arjovsky et al.: clipping, RMSprop 5e-5, 5 critic steps
            return [("clip", "0.01"), ("optimizer", "rmsprop"), ("lr_d", "5e-05"), ("lr_g", "5e-05"), ("n_critic", "5")]
        case (.wasserstein, _):  // Gulrajani et al.: Adam 1e-4, betas (0, 0.9), 5 critic steps
            return [("optimizer", "adam"), ("lr_d", "0.0001"), ("lr_g", "0.0001"), ("beta1_d", "0.0"), ("beta2_d", "0.9"),
                    ("beta1_g", "0.0"), ("beta2_g", "0.9"), ("n_critic", "5")]
        default:
            return []
        }
    }

    /// Checks the combination of options (called when a trainer is built).
    public func validate() throws(SwiftGANError) {
        try architecture.networks.checkImageSize(imageSize, arch: architecture)
        let energyBased = loss.objective.isEnergyBased
        let critic = architecture.networks.critic
        if energyBased && critic == .scores {
            let names = Architecture.withAutoEncoderCritic.map { "'\($0.rawValue)'" }
            throw SwiftGANError("loss \(loss.name) needs an auto-encoder critic: arch \(names.dropLast().joined(separator: ", ")) "
                                + "or \(names.last!), got '\(architecture.rawValue)'")
        }
        if !energyBased && critic == .autoEncoder {
            throw SwiftGANError("arch '\(architecture.rawValue)' is for the energy-based losses EBGAN and BEGAN, got loss \(loss.name)")
        }
        if architecture == .resnet {
            if dcgan.spectralNormD || dcgan.spectralNormG || !dcgan.batchNormG || !dcgan.batchNormD {
                throw SwiftGANError("arch 'resnet' takes layer_norm_d, not the DCGAN options (spectral_norm_*, batch_norm_*)")
            }
        }
        if lrSchedule == .began, case .boundaryEquilibrium = loss.objective {} else if lrSchedule == .began {
            throw SwiftGANError("lr_schedule 'began' follows BEGAN's convergence measure and needs loss BEGAN, got \(loss.name)")
        }
        if !architecture.networks.hasDCGANGenerator && (dcgan.selu || dcgan.upsampleConv) {
            throw SwiftGANError("selu and upsample_conv are options of arch 'dcgan', not '\(architecture.rawValue)'")
        }
    }

    public static func == (a: GANConfig, b: GANConfig) -> Bool {
        a.keyValues.map { "\($0.0)=\($0.1)" } == b.keyValues.map { "\($0.0)=\($0.1)" }
    }
}

import Glibc
