import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

final class LossTests: XCTestCase {
    let cr: [Double] = [0.3, -1.2, 2.5, 0.1], cf: [Double] = [-0.7, 0.4, -2.1, 1.3]
    func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
    func sp(_ x: Double) -> Double { Foundation.log1p(Foundation.exp(x)) }  // softplus

    /// (f₁, f₂) of each function family, in double precision.
    func pair(_ f: LossFunction) -> ((Double) -> Double, (Double) -> Double) {
        switch f {
        case .standard: return ({ self.sp(-$0) }, { self.sp($0) })
        case .leastSquares: return ({ ($0 - 1) * ($0 - 1) }, { ($0 + 1) * ($0 + 1) })
        case .hinge: return ({ max(0, 1 - $0) }, { max(0, 1 + $0) })
        }
    }

    /// The formulas of every objective, written out independently of the implementation.
    func expected(_ o: AdversarialObjective) -> (Double, Double) {
        let mr = mean(cr), mf = mean(cf)
        switch o {
        case .standard(let minimax):
            return (mean(cr.map { sp(-$0) }) + mean(cf.map(sp)), minimax ? -mean(cf.map(sp)) : mean(cf.map { sp(-$0) }))
        case .leastSquares(let a, let b, let c):
            let (a, b, c) = (Double(a), Double(b), Double(c))
            return (mean(cr.map { ($0 - b) * ($0 - b) }) + mean(cf.map { ($0 - a) * ($0 - a) }), mean(cf.map { ($0 - c) * ($0 - c) }))
        case .hinge: return (mean(cr.map { max(0, 1 - $0) }) + mean(cf.map { max(0, 1 + $0) }), -mf)
        case .wasserstein: return (mf - mr, -mf)
        case .energy(let m, _): return (mr + mean(cf.map { max(0, Double(m) - $0) }), mf)
        case .boundaryEquilibrium: return (mr, mf)  // k = 0 before any update
        case .relativistic(let f, let r):
            let (f1, f2) = pair(f)
            switch r {
            case .paired: return (mean(zip(cr, cf).map { f1($0 - $1) }), mean(zip(cf, cr).map { f1($0 - $1) }))
            case .average:
                return ((mean(cr.map { f1($0 - mf) }) + mean(cf.map { f2($0 - mr) })) / 2,
                        (mean(cr.map { f2($0 - mf) }) + mean(cf.map { f1($0 - mr) })) / 2)
            case .centered:
                let m = (mr + mf) / 2
                return ((mean(cr.map { f1($0 - m) }) + mean(cf.map { f2($0 - m) })) / 2,
                        (mean(cr.map { f2($0 - m) }) + mean(cf.map { f1($0 - m) })) / 2)
            case .allPairs:
                return (mean(cr.flatMap { r in cf.map { f1(r - $0) } }), mean(cr.flatMap { r in cf.map { f1($0 - r) } }))
            }
        }
    }

    func testEveryObjectiveMatchesItsFormula() {
        let r = Tensor(cr.map(Float.init), shape: [4]), f = Tensor(cf.map(Float.init), shape: [4])
        let objectives = AdversarialObjective.all + [.standard(minimax: true), .leastSquares(a: -1, b: 1, c: 0)]
        XCTAssertEqual(objectives.count, 20)
        for o in objectives {
            let (d, g) = expected(o)
            XCTAssertEqual(Double(o.discriminatorLoss(real: r, fake: f).scalar), d, accuracy: 1e-5, "\(o.name) D")
            XCTAssertEqual(Double(o.generatorLoss(real: r, fake: f).scalar), g, accuracy: 1e-5, "\(o.name) G")
        }
    }

    func testObjectiveGradientsMatchFiniteDifferences() {
        for o in AdversarialObjective.all {
            let r = randomTensor([5], seed: 1, margin: 0.05), f = randomTensor([5], seed: 2, margin: 0.05)
            checkFirstOrder("\(o.name) D", [r, f], eps: 1e-3) { o.discriminatorLoss(real: $0[0], fake: $0[1]) }
            checkFirstOrder("\(o.name) G", [r, f], eps: 1e-3) { o.generatorLoss(real: $0[0], fake: $0[1]) }
        }
    }

    func testNamesParseWithPenaltiesAndAliases() throws {
        XCTAssertEqual(AdversarialObjective.all.map(\.name),
                       ["SGAN", "LSGAN", "HingeGAN", "WGAN", "RSGAN", "RLSGAN", "RHingeGAN", "RaSGAN", "RaLSGAN", "RaHingeGAN",
                        "RcSGAN", "RcLSGAN", "RcHingeGAN", "RpSGAN-avg", "RpLSGAN-avg", "RpHingeGAN-avg", "EBGAN", "BEGAN"])
        XCTAssertEqual(try LossSpec(name: "rasgan-gp"), LossSpec(objective: .relativistic(.standard, .average), penalties: [.gradient]))
        XCTAssertEqual(try LossSpec(name: "RpLSGAN-avg-R1-GP").penalties, [.r1, .gradient])
        XCTAssertEqual(try LossSpec(name: "RpLSGAN-avg-R1-GP").name, "RpLSGAN-avg-R1-GP")
        XCTAssertEqual(try LossSpec(name: "DRAGAN").name, "DRAGAN")
        XCTAssertEqual(try LossSpec(name: "RaDRAGAN"), LossSpec(objective: .relativistic(.standard, .average), penalties: [.dragan]))
        XCTAssertEqual(try LossSpec(name: "WGAN-LP").name, "WGAN-LP")
    }

    func testUnknownLossNameListsTheKnownOnes() {
        XCTAssertThrowsError(try LossSpec(name: "RaWGAN")) { error in
            let message = (error as! SwiftGANError).message
            // every objective, then each with every penalty suffix of the registry, then the aliases
            let objectives = AdversarialObjective.all.filter { !$0.isEnergyBased }.map(\.name)
            let expected = objectives.flatMap { o in [o] + PenaltyKind.allCases.map { o + "-" + $0.rawValue } }
            XCTAssertTrue(message.hasPrefix("unknown loss 'RaWGAN'; known losses: " + expected.joined(separator: ", ")), message)
            XCTAssertTrue(message.hasSuffix("EBGAN, BEGAN, DRAGAN, RaDRAGAN"), message)
        }
        XCTAssertThrowsError(try LossSpec(name: "WGAN-GP-GP")) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "loss 'WGAN-GP-GP' names a penalty twice")
        }
    }

    func testPullAwayTermIsTheMeanSquaredCosineOverDistinctPairs() {
        let codes: [[Double]] = [[1, 0, 2], [0.5, -1, 1], [-2, 1, 0.3]]
        func cos(_ a: [Double], _ b: [Double]) -> Double {
            zip(a, b).map(*).reduce(0, +) / (a.map { $0 * $0 }.reduce(0, +) * b.map { $0 * $0 }.reduce(0, +)).squareRoot()
        }
        var expected = 0.0
        for i in 0..<3 { for j in 0..<3 where i != j { expected += cos(codes[i], codes[j]) * cos(codes[i], codes[j]) } }
        let t = Tensor(codes.flatMap { $0.map(Float.init) }, shape: [3, 3])
        XCTAssertEqual(Double(pullAwayTerm(t).scalar), expected / 6, accuracy: 1e-6)
        checkFirstOrder("pull-away term", [randomTensor([4, 3], seed: 1)], eps: 1e-3) { pullAwayTerm($0[0]) }
    }

    func testEnergyBasedLossesNeedAnAutoEncoderAndTakeNoPenalty() throws {
        XCTAssertThrowsError(try GANTrainer(config: GANConfig(text: "loss=EBGAN\nimage_size=32"))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "loss EBGAN needs an auto-encoder critic: arch 'autoencoder', 'ebgan', 'began' or 'mlp', got 'dcgan'")
        }
        XCTAssertThrowsError(try GANTrainer(config: GANConfig(text: "loss=RaSGAN\narch=autoencoder\nimage_size=32"))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "arch 'autoencoder' is for the energy-based losses EBGAN and BEGAN, got loss RaSGAN")
        }
        XCTAssertThrowsError(try LossSpec(name: "BEGAN-GP")) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "loss 'BEGAN-GP': BEGAN takes no penalty (its critic is an auto-encoder)")
        }
    }

    /// PacGAN: D takes pack·C channels and judges N/pack packed samples (the consecutive samples' channels side by
    /// side); the penalties' inputs are per packed sample; a batch that does not split into packs is refused.
    func testPackingFeedsTheCriticPackedSamples() throws {
        let t = try GANTrainer(config: GANConfig(text: "loss=RaSGAN-GP\nimage_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=4\npack=2"))
        XCTAssertEqual(t.discriminator.namedParameters.first { $0.0 == "main.0.weight" }?.1.shape, [4, 2, 4, 4])
        XCTAssertEqual(t.generator.namedParameters.last { $0.0.hasSuffix("weight") }?.1.shape[1], 1)  // G makes 1 channel
        let real = randomTensor([8, 1, 32, 32], seed: 1)
        let packed = t.pack(real)
        XCTAssertEqual(packed.shape, [4, 2, 32, 32])
        XCTAssertEqual(Array(packed.scalars[1024..<2048]), Array(real.scalars[1024..<2048]))  // sample 1: channel 1 of pack 0
        let s = try t.trainStep(real: [real], ["u": [randomTensor([4], seed: 2, low: 0, high: 1)]])
        XCTAssertTrue(s.discriminatorLoss.isFinite && s.penalty > 0)
        XCTAssertThrowsError(try t.trainStep(real: [real], ["u": [randomTensor([8], seed: 2, low: 0, high: 1)]])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "u must have shape [4], got [8]")
        }
        XCTAssertThrowsError(try t.trainStep(real: [randomTensor([3, 1, 32, 32], seed: 3)])) {
            XCTAssertEqual(($0 as! SwiftGANError).message,
                           "real must hold a multiple of pack = 2 samples per batch, at least 4 (the critic judges 2 at a time), got 3")
        }
    }

    func testBEGANUpdatesKAndReportsTheConvergenceMeasure() throws {
        let t = try GANTrainer(config: GANConfig(text: "loss=BEGAN\narch=autoencoder\nimage_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=4\nbegan_lambda_k=0.1"))
        var k: Float = 0
        for step in 0..<3 {
            let s = try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: UInt64(step))])
            let balance = 0.5 * s.criticReal - s.generatorLoss
            k = min(max(k + 0.1 * balance, 0), 1)
            XCTAssertEqual(s.k, k, accuracy: 1e-7)
            XCTAssertEqual(s.mGlobal, s.criticReal + Swift.abs(balance), accuracy: 1e-6)
            XCTAssertGreaterThan(s.criticReal, 0)  // mean absolute reconstruction error
        }
        XCTAssertEqual(Float(t.scalars.first { $0.0 == "began.k" }!.1), k)  // kept by name, exactly
    }

    func testWGANPresetIsAppliedAndCanBeOverridden() throws {
        let preset = try GANConfig(text: "loss=WGAN")
        XCTAssertEqual([preset.clip, preset.learningRateD], [0.01, 5e-5])
        XCTAssertEqual(preset.optimizer, .rmsprop)
        XCTAssertEqual(preset.criticSteps, 5)
        let overridden = try GANConfig(text: "n_critic=2\nloss=WGAN")
        XCTAssertEqual(overridden.criticSteps, 2)
        let gp = try GANConfig(text: "loss=WGAN-GP")
        XCTAssertEqual(gp.clip, 0)
        XCTAssertEqual(gp.betasD.1, 0.9)
    }
}

final class GradientPenaltyTests: XCTestCase {
    /// A small critic with the DCGAN discriminator's layer kinds, tanh in place of LeakyReLU: a
    /// penalty contains the activation's derivative, and LeakyReLU's jumps where a pre-activation
    /// crosses 0, which finite differences cannot follow (its mask rule is checked in the op tests).
    func critic(_ w: [Tensor]) -> (Tensor) -> Tensor {
        { x in
            let h = tanh(conv2d(x, weight: w[0], stride: 2, padding: 1))
            let b = batchNorm2dTraining(conv2d(h, weight: w[1], stride: 2, padding: 1), gamma: w[2], beta: w[3],
                                        runningMean: .zeros([3]), runningVar: .ones([3]))
            return conv2d(tanh(b), weight: w[4]).reshaped([x.shape[0]])
        }
    }

    func testGradientPenaltyWeightGradientsMatchFiniteDifferences() {
        let real = randomTensor([3, 1, 8, 8], seed: 1), fake = randomTensor([3, 1, 8, 8], seed: 2)
        let u = randomTensor([3], seed: 3, low: 0, high: 1)
        let weights = [randomTensor([2, 1, 4, 4], seed: 4), randomTensor([3, 2, 4, 4], seed: 5),
                       randomTensor([3], seed: 6, low: 0.5, high: 1.5), randomTensor([3], seed: 7),
                       randomTensor([1, 3, 2, 2], seed: 8)]
        checkFirstOrder("gradient penalty", weights, eps: 1e-3, rtol: 3e-2, atol: 5e-3) { w in
            gradientPenalty(critic: self.critic(w), real: real, fake: fake, mixing: u, weight: 10)
        }
    }

    func testEveryPenaltysWeightGradientsMatchFiniteDifferences() {
        let real = randomTensor([3, 1, 8, 8], seed: 1), fake = randomTensor([3, 1, 8, 8], seed: 2)
        let inputs = PenaltyInputs(["u": randomTensor([3], seed: 3, low: 0, high: 1), "dragan_alpha": randomTensor([3], seed: 9),
                                    "dragan_noise": randomTensor([3, 1, 8, 8], seed: 10, low: 0, high: 1)])
        for kind in PenaltyKind.allCases {
            let weights = [randomTensor([2, 1, 4, 4], seed: 4), randomTensor([3, 2, 4, 4], seed: 5),
                           randomTensor([3], seed: 6, low: 0.5, high: 1.5), randomTensor([3], seed: 7),
                           randomTensor([1, 3, 2, 2], seed: 8)]
            checkFirstOrder("\(kind) penalty", weights, eps: 1e-3, rtol: 3e-2, atol: 5e-3) { w in
                penalty(kind, weight: 10, critic: self.critic(w), real: real, fake: fake, inputs: inputs)
            }
        }
    }

    func testPenaltiesOfALinearCriticAreAnalytic() {
        // C(x) = ⟨a, x⟩ has ∇C = a everywhere: GP = λ(‖a‖ − 1)², LP = λ max(0, ‖a‖ − 1)², R1 = R2 = (γ/2)‖a‖²,
        // GP0 = λ‖a‖².
        let a = Tensor([0.25, -0.5, 0.1, 0.2], shape: [1, 1, 2, 2])
        let critic: (Tensor) -> Tensor = { conv2d($0, weight: a).reshaped([$0.shape[0]]) }
        let real = randomTensor([2, 1, 2, 2], seed: 1), fake = randomTensor([2, 1, 2, 2], seed: 2)
        let inputs = PenaltyInputs(["u": Tensor([0.3, 0.9], shape: [2]), "dragan_alpha": Tensor([0.5, -0.5], shape: [2]),
                                    "dragan_noise": randomTensor([2, 1, 2, 2], seed: 3, low: 0, high: 1)])
        let norm = (0.0625 + 0.25 + 0.01 + 0.04).squareRoot()  // < 1: LP is 0
        let expected: [PenaltyKind: Double] = [.gradient: 10 * (norm - 1) * (norm - 1), .lipschitz: 0, .r1: 5 * norm * norm,
                                               .dragan: 10 * (norm - 1) * (norm - 1), .r2: 5 * norm * norm,
                                               .zeroCentredGradient: 10 * norm * norm]
        for kind in PenaltyKind.allCases {
            let p = penalty(kind, weight: 10, critic: critic, real: real, fake: fake, inputs: inputs)
            XCTAssertEqual(Double(p.scalar), expected[kind]!, accuracy: 1e-5, "\(kind)")
        }
    }

    func testGradientPenaltyOfALinearCriticIsAnalytic() {
        // C(x) = ⟨a, x⟩ has ∇C = a everywhere, so the penalty is λ(‖a‖ − 1)².
        let a = Tensor([0.5, -1, 2, 0.25], shape: [1, 1, 2, 2])
        let gp = gradientPenalty(critic: { conv2d($0, weight: a).reshaped([$0.shape[0]]) },
                                 real: randomTensor([2, 1, 2, 2], seed: 1), fake: randomTensor([2, 1, 2, 2], seed: 2),
                                 mixing: Tensor([0.3, 0.9], shape: [2]), weight: 10)
        let norm = (0.25 + 1 + 4 + 0.0625).squareRoot()
        XCTAssertEqual(Double(gp.scalar), 10 * (norm - 1) * (norm - 1), accuracy: 1e-5)
    }
}

final class StepInputTests: XCTestCase {
    /// Each penalty declares its random inputs; a step takes real, the latents and those, each once, in the order
    /// they are drawn (the registry's, whatever the order of the suffixes), and nothing for R1 and R2.
    func testAStepTakesTheInputsItsPenaltiesDeclare() throws {
        func names(_ loss: String, _ extra: String = "") throws -> [String] {
            try GANTrainer(config: GANConfig(text: "loss=\(loss)\nimage_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=4\(extra)"))
                .stepInputSpecs.map(\.name)
        }
        XCTAssertEqual(try names("RaSGAN"), ["real", "z", "z_g"])
        XCTAssertEqual(try names("RaSGAN-R1-R2"), ["real", "z", "z_g"])
        XCTAssertEqual(try names("WGAN-GP-LP"), ["real", "z", "z_g", "u"])
        XCTAssertEqual(try names("RaSGAN-GP0"), ["real", "z", "z_g", "u"])  // declares u, shared with GP and LP
        XCTAssertEqual(try names("SGAN-DRAGAN-GP"), ["real", "z", "z_g", "u", "dragan_alpha", "dragan_noise"])
        XCTAssertEqual(try names("RaSGAN", "\nreuse_fake=true"), ["real", "z"])
        let reusing = try GANTrainer(config: GANConfig(text: "image_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=4\nreuse_fake=true"))
        XCTAssertThrowsError(try reusing.stepInputs([("real", .zeros([4, 1, 32, 32])), ("z_g", .zeros([4, 4]))])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "z_g is not an input when reuse_fake is set: the generator step "
                           + "reuses the last critic step's fake batch")
        }
    }

    /// R2 penalises the critic's gradient at the fake batch: given the same inputs, a step's penalty is R1's with
    /// the real and fake batches swapped, and it does not depend on the real batch.
    func testR2IsR1OnTheFakeBatch() {
        let critic: (Tensor) -> Tensor = { square($0).sum(alongAxes: [1, 2, 3]).reshaped([$0.shape[0]]) }  // ∇C = 2x
        let real = randomTensor([3, 1, 4, 4], seed: 1), fake = randomTensor([3, 1, 4, 4], seed: 2)
        let r2 = penalty(.r2, weight: 10, critic: critic, real: real, fake: fake, inputs: PenaltyInputs())
        let r1 = penalty(.r1, weight: 10, critic: critic, real: fake, fake: real, inputs: PenaltyInputs())
        XCTAssertEqual(r2.scalar, r1.scalar)
        let expected = (0..<fake.count).reduce(0.0) { $0 + 4 * Double(fake.scalars[$1] * fake.scalars[$1]) } / 3 * 5
        XCTAssertEqual(Double(r2.scalar), expected, accuracy: 1e-4 * expected)
    }
}

final class TrainerTests: XCTestCase {
    func config(_ loss: String = "RaSGAN") -> GANConfig {
        var c = GANConfig()
        try! c.set("loss", loss); try! c.set("image_size", "32"); try! c.set("channels", "1")
        try! c.set("z_dim", "8"); try! c.set("ngf", "4"); try! c.set("ndf", "4"); try! c.set("seed", "7")
        return c
    }

    func testWeightClippingBoundsEveryDiscriminatorParameter() throws {
        var c = config("WGAN")
        try c.set("n_critic", "1")
        let t = try GANTrainer(config: c)
        _ = try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: 1)])
        let values = t.discriminator.namedParameters.flatMap { $0.1.scalars }
        XCTAssertLessThanOrEqual(values.map { Swift.abs($0) }.max()!, 0.01)
        XCTAssertEqual(t.optimizerD is RMSprop, true)
    }

    func testGeneratorStepComputesNoDiscriminatorWeightGradients() throws {
        for loss in ["SGAN", "RaSGAN"] {
            let t = try GANTrainer(config: config(loss))
            let real = randomTensor([4, 1, 32, 32], seed: 1)
            let before = Instrumentation.convolutionWeightGradients
            _ = try t.trainStep(real: [real])
            // The D step differentiates two D passes (real and fake batches, separate batch statistics),
            // so each D conv contributes twice; the G step adds one per G conv and none for D's weights
            // (D's weight gradients in the G step would add one more per D conv).
            let convs = { (m: Module) in (m as! HasMain).main.layers.filter { $0 is Conv2d || $0 is ConvTranspose2d }.count }
            XCTAssertEqual(Instrumentation.convolutionWeightGradients - before,
                           2 * convs(t.discriminator) + convs(t.generator), loss)
        }
    }

    /// A critic loss that is a term on real samples plus one on fake ones is differentiated one batch at a time:
    /// the real term's gradients are taken (and its graph freed) before the critic judges the fake batch. The
    /// gradients are the joint backward pass's to the bit, and the step holds about one critic graph, not two.
    func testASeparableCriticLossIsDifferentiatedOneBatchAtATime() throws {
        for (loss, arch) in [("WGAN", "dcgan"), ("LSGAN", "dcgan"), ("HingeGAN", "resnet"), ("EBGAN", "began"), ("BEGAN", "began")] {
            let text = "image_size=32\nchannels=1\nngf=8\nndf=8\nz_dim=8\narch=\(arch)\nloss=\(loss)"
            let joint = try GANTrainer(config: GANConfig(text: text)), separate = try GANTrainer(config: GANConfig(text: text))
            XCTAssertNotNil(joint.objective.separateDiscriminatorTerms(k: 0), loss)
            let real = randomTensor([16, 1, 32, 32], seed: 1)
            let fake = withoutGradients { joint.generator(randomTensor([16, 8], seed: 2)) }
            joint.equilibrium.k = 0.25
            separate.equilibrium.k = 0.25  // BEGAN's fake term has a gradient (k is 0 at the start)

            var base = BufferPool.shared.resetPeak()
            let criticReal = joint.critic(real)
            let oneGraph = BufferPool.shared.liveBytes - base
            let criticFake = joint.critic(fake)
            let expected = gradients(of: joint.objective.discriminatorLoss(real: criticReal, fake: criticFake, k: 0.25),
                                     wrt: joint.parametersD, retainGraph: false)
            let jointPeak = BufferPool.shared.peakLiveBytes - base

            separate.retainGradients = true
            base = BufferPool.shared.resetPeak()
            let (_, nonFinite) = separate.discriminatorStep(real: real, fake: fake, penaltyInputs: PenaltyInputs(),
                                                            learningRateFactor: 1, iterationStart: IterationStart(separate))
            let separatePeak = BufferPool.shared.peakLiveBytes - base
            XCTAssertNil(nonFinite, loss)
            for (name, g) in zip(separate.parameterNames, expected) {
                XCTAssertEqual(separate.retainedGradients[name]?.scalars, g.scalars, "\(loss): \(name)")
            }
            // The step also copies the critic and its optimizer state (the refused step's backup) and updates it.
            let backup = 3 * separate.parametersD.reduce(0) { $0 + MemoryBudget.bytes(ofTensor: $1.count) }
            print("\(loss) on \(arch): one critic graph \(oneGraph >> 10) kB; peak of the joint backward \(jointPeak >> 10) kB, "
                  + "of the critic step one batch at a time \(separatePeak >> 10) kB (backup \(backup >> 10) kB)")
            XCTAssertLessThan(separatePeak - backup, jointPeak - oneGraph / 2, "\(loss) on \(arch)")
        }
    }

    /// A critic whose passes' order changes none of their outputs has its first penalty differentiated before its
    /// adversarial term, so that the penalty's double-backprop graph, a step's largest, is not held beside the
    /// adversarial term's gradients: the step trains to the same bits as in the other order (batch norm's running
    /// statistics included: the penalty's updates are applied after the adversarial term's), and its critic step
    /// peaks lower by about those gradients. A critic with spectral norm, whose every pass moves the vectors the
    /// next one normalises with, keeps the order of PyTorch's step.
    func testACriticsFirstPenaltyIsDifferentiatedFirstToTheSameBitsUnlessItsPassesDependOnTheirOrder() throws {
        for (loss, arch, first) in [("WGAN-GP", "resnet", true), ("RaSGAN-R1-GP", "resnet", true), ("RaSGAN-GP", "dcgan", true),
                                    ("RaSGAN-GP", "cnn\nspectral_norm_d=true", false)] {
            let text = "image_size=32\nchannels=1\nngf=8\nndf=8\nz_dim=8\narch=\(arch)\nloss=\(loss)\nseed=3"
            let trainers = try (0..<2).map { _ in try GANTrainer(config: GANConfig(text: text)) }
            XCTAssertEqual(trainers[0].penaltyFirst, first, "\(loss) on \(arch)")
            trainers[1].penaltyFirst = !first
            let real = randomTensor([16, 1, 32, 32], seed: 1)
            let fake = randomTensor([16, 1, 32, 32], seed: 2)
            let inputs = PenaltyInputs([RandomInput.mixing.name: randomTensor([16], seed: 4, low: 0, high: 1)])
            let peaks = trainers.map { t in
                let base = BufferPool.shared.resetPeak()
                let (_, nonFinite) = t.discriminatorStep(real: real, fake: fake, penaltyInputs: inputs,
                                                         learningRateFactor: 1, iterationStart: IterationStart(t))
                XCTAssertNil(nonFinite, loss)
                return BufferPool.shared.peakLiveBytes - base
            }
            for t in trainers { _ = try t.trainStep(real: [real]); _ = try t.trainStep(real: [real]) }
            let states = trainers.map { $0.fullState.map { ($0.0, $0.1.scalars.map(\.bitPattern)) } }
            let differing = zip(states[0], states[1]).filter { $0.1 != $1.1 }.map(\.0.0)
            // with spectral norm, the order of the critic's passes changes their outputs
            XCTAssertEqual(differing.isEmpty, first, "\(loss) on \(arch): \(differing.prefix(3)) differ")
            if arch == "dcgan" {  // the running statistics moved (the check above compares them too)
                XCTAssertTrue(trainers[0].buffers.contains { $0.0.hasSuffix("running_mean") && $0.1.scalars.contains { $0 != 0 } })
            }
            let gradientBytes = trainers[0].parametersD.reduce(0) { $0 + MemoryBudget.bytes(ofTensor: $1.count) }
            print("\(loss) on \(arch): critic step peak \(peaks[0] >> 10) kB (penalty first: \(first)), "
                  + "\(peaks[1] >> 10) kB in the other order; D's gradients \(gradientBytes >> 10) kB")
            // only the first penalty moves (a later one is summed after the adversarial term, as before, to the bit)
            if first && trainers[0].config.loss.penalties.count == 1 { XCTAssertLessThanOrEqual(peaks[0], peaks[1] - gradientBytes / 2, loss) }
        }
    }

    func testTrainingIsBitIdenticalForTheSameSeed() throws {
        let real = randomTensor([4, 1, 32, 32], seed: 1)
        let runs = try (0..<2).map { _ -> ([StepStats], [Float]) in
            let t = try GANTrainer(config: config("RaLSGAN-GP"))
            let stats = try (0..<3).map { _ in try t.trainStep(real: [real]) }
            return (stats, t.fullState.flatMap { $0.1.scalars })
        }
        XCTAssertEqual(runs[0].0, runs[1].0)
        XCTAssertEqual(runs[0].1, runs[1].1)
        XCTAssertGreaterThan(runs[0].0[0].penalty, 0)
    }

    func testStateDictNamesAndShapesFollowPyTorch() throws {
        let t = try GANTrainer(config: config())
        let names = t.modelState.map { $0.0 }
        XCTAssertEqual(Array(names.prefix(6)), ["G.main.0.weight", "G.main.1.weight", "G.main.1.bias",
                                                "G.main.1.running_mean", "G.main.1.running_var", "G.main.3.weight"])
        XCTAssertEqual(t.modelState.first!.1.shape, [8, 16, 4, 4])  // ConvTranspose2d(z, ngf·4): [in, out, k, k]
        XCTAssertEqual(t.modelState.last!.0, "D.main.8.weight")
        XCTAssertEqual(t.modelState.last!.1.shape, [1, 16, 4, 4])
    }

    func testBadShapesAreRejectedWithTheArgumentsName() throws {
        let t = try GANTrainer(config: config("RaSGAN-GP"))
        XCTAssertThrowsError(try t.trainStep(real: [randomTensor([4, 3, 32, 32], seed: 1)])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "real must have shape [N, 1, 32, 32], got [4, 3, 32, 32]")
        }
        XCTAssertThrowsError(try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: 1)], ["u": [.zeros([3])]])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "u must have shape [4], got [3]")
        }
        XCTAssertThrowsError(try t.generate(.zeros([2, 5]))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "z must have shape [N, 8], got [2, 5]")
        }
        // The API's arrays (as the C ABI passes them), split per critic step: one message form for every input.
        XCTAssertThrowsError(try t.trainStep(t.stepInputs([("real", .zeros([4, 1, 32, 32])), ("u", .zeros([2, 4]))]))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "u must have shape [4], got [2, 4]")
        }
        var twoCritic = config("RaSGAN-GP")
        try twoCritic.set("n_critic", "2")
        let twice = try GANTrainer(config: twoCritic)
        XCTAssertThrowsError(try twice.trainStep(twice.stepInputs([("real", .zeros([3, 4, 1, 32, 32]))]))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "real must have shape [N, 1, 32, 32] or [2, N, 1, 32, 32], got [3, 4, 1, 32, 32]")
        }
        XCTAssertThrowsError(try twice.trainStep(twice.stepInputs([("real", .zeros([4, 1, 32, 32])), ("z", .zeros([4, 8]))]))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "z must have shape [2, 4, 8], got [4, 8]")
        }
        XCTAssertNoThrow(try twice.trainStep(twice.stepInputs([("real", .zeros([2, 4, 1, 32, 32])), ("z", .zeros([2, 4, 8]))])))
        // Inputs are named: a name the configuration does not take is refused, naming the penalties that draw it.
        XCTAssertThrowsError(try t.stepInputs([("real", .zeros([4, 1, 32, 32])), ("dragan_alpha", .zeros([4]))])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "dragan_alpha is not an input of loss RaSGAN-GP (it is drawn by the "
                           + "penalties -DRAGAN); a step of this GAN takes real, z, z_g, u")
        }
        XCTAssertThrowsError(try t.stepInputs([("z", .zeros([4, 8]))])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "real is required")
        }
        XCTAssertThrowsError(try GANTrainer(config: GANConfig(text: "image_size=48"))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "image_size must be one of [32, 64, 128, 256] for arch 'dcgan', got 48")
        }
    }

    func testConfigTextRoundTrips() throws {
        let c = config("RaHingeGAN-GP")
        let text = c.keyValues.map { "\($0.0)=\($0.1)" }.joined(separator: "\n")
        XCTAssertEqual(try GANConfig(text: text), c)
    }
}

import Foundation

/// Models built from one `main` sequential.
protocol HasMain { var main: Sequential { get } }
extension DCGANGenerator: HasMain {}
extension DCGANDiscriminator: HasMain {}

final class ScheduleTests: XCTestCase {
    func testLearningRateSchedulesFollowTheIteration() throws {
        let step = try GANConfig(text: "lr_schedule=step\nlr_step=10\nlr_gamma=0.5")
        XCTAssertEqual([0, 9, 10, 25].map { step.learningRateFactor(at: $0) }, [1, 1, 0.5, 0.25])
        let linear = try GANConfig(text: "lr_schedule=linear\nlr_step=100")
        XCTAssertEqual([0, 50, 100, 150].map { linear.learningRateFactor(at: $0) }, [1, 0.5, 0, 0])
        XCTAssertEqual(try GANConfig(text: "").learningRateFactor(at: 12345), 1)
    }

    func testTheTrainerAppliesTheScheduleBeforeEachIteration() throws {
        let t = try GANTrainer(config: GANConfig(text: "image_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=4\nlr_schedule=step\nlr_step=1\nlr_gamma=0.1\nlr_d=0.01\nlr_g=0.02"))
        let real = randomTensor([2, 1, 32, 32], seed: 1)
        XCTAssertEqual(t.learningRateFactor, 1)
        _ = try t.trainStep(real: [real])
        XCTAssertEqual(t.learningRateFactor, 0.1, "the factor of the second iteration")
        _ = try t.trainStep(real: [real])
        XCTAssertEqual(t.learningRateFactor, Float(0.1) * 0.1, accuracy: 1e-9)
        // the learning rates are the configuration's, stored once; each step scales them by the factor
        XCTAssertEqual([t.optimizerD.learningRate, t.optimizerG.learningRate], [0.01, 0.02])
    }
}

final class BEGANScheduleTests: XCTestCase {
    func testTheBEGANScheduleDecaysWhenTheConvergenceMeasureStalls() throws {
        let t = try GANTrainer(config: GANConfig(text: "loss=BEGAN\narch=autoencoder\nimage_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=4\nlr_schedule=began\nlr_step=2\nlr_gamma=0.5\nlr_d=0.001\nlr_g=0.001"))
        var best = Float.infinity, since = 0, factor: Float = 1
        var decays = 0
        for step in 0..<8 {
            XCTAssertEqual(t.learningRateFactor, factor, "step \(step) uses the factor set before it")
            let s = try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: UInt64(step % 2))])
            if s.mGlobal < best { best = s.mGlobal; since = 0 } else { since += 1; if since >= 2 { factor *= 0.5; since = 0; decays += 1 } }
            XCTAssertEqual(t.equilibrium.learningRateFactor, factor)
        }
        XCTAssertGreaterThan(decays, 0)
        XCTAssertThrowsError(try GANTrainer(config: GANConfig(text: "loss=RaSGAN\nlr_schedule=began\nimage_size=32"))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "lr_schedule 'began' follows BEGAN's convergence measure and needs loss BEGAN, got RaSGAN")
        }
    }
}
