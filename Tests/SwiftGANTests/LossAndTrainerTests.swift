import XCTest
@testable import SwiftGAN

final class LossTests: XCTestCase {
    let cr: [Double] = [0.3, -1.2, 2.5, 0.1], cf: [Double] = [-0.7, 0.4, -2.1, 1.3]
    func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
    func sp(_ x: Double) -> Double { Foundation.log1p(Foundation.exp(x)) }  // softplus

    func testEveryLossMatchesItsFormula() {
        let r = Tensor(cr.map(Float.init), shape: [4]), f = Tensor(cf.map(Float.init), shape: [4])
        let mr = mean(cr), mf = mean(cf)
        // BCE(v, 1) = softplus(−v), BCE(v, 0) = softplus(v).
        let expected: [AdversarialLoss: (Double, Double)] = [
            .sgan: (mean(cr.map { sp(-$0) }) + mean(cf.map(sp)), mean(cf.map { sp(-$0) })),
            .rsgan: (mean(zip(cr, cf).map { sp(-($0 - $1)) }), mean(zip(cf, cr).map { sp(-($0 - $1)) })),
            .rasgan: ((mean(cr.map { sp(-($0 - mf)) }) + mean(cf.map { sp($0 - mr) })) / 2,
                      (mean(cr.map { sp($0 - mf) }) + mean(cf.map { sp(-($0 - mr)) })) / 2),
            .ralsgan: ((mean(cr.map { ($0 - mf - 1) * ($0 - mf - 1) }) + mean(cf.map { ($0 - mr + 1) * ($0 - mr + 1) })) / 2,
                       (mean(cr.map { ($0 - mf + 1) * ($0 - mf + 1) }) + mean(cf.map { ($0 - mr - 1) * ($0 - mr - 1) })) / 2),
            .rahinge: ((mean(cr.map { max(0, 1 - ($0 - mf)) }) + mean(cf.map { max(0, 1 + ($0 - mr)) })) / 2,
                       (mean(cr.map { max(0, 1 + ($0 - mf)) }) + mean(cf.map { max(0, 1 - ($0 - mr)) })) / 2),
        ]
        for loss in AdversarialLoss.allCases {
            let (d, g) = expected[loss]!
            XCTAssertEqual(Double(loss.discriminatorLoss(real: r, fake: f).scalar), d, accuracy: 1e-6, "\(loss) D")
            XCTAssertEqual(Double(loss.generatorLoss(real: r, fake: f).scalar), g, accuracy: 1e-6, "\(loss) G")
        }
    }

    func testLossGradientsMatchFiniteDifferences() {
        for loss in AdversarialLoss.allCases {
            let r = randomTensor([5], seed: 1, margin: 0.05), f = randomTensor([5], seed: 2, margin: 0.05)
            checkFirstOrder("\(loss) D", [r, f], eps: 1e-3) { loss.discriminatorLoss(real: $0[0], fake: $0[1]) }
            checkFirstOrder("\(loss) G", [r, f], eps: 1e-3) { loss.generatorLoss(real: $0[0], fake: $0[1]) }
        }
    }

    func testUnknownLossNameListsTheKnownOnes() {
        XCTAssertThrowsError(try LossSpec(name: "RaWGAN")) { error in
            let message = (error as! SwiftGANError).message
            XCTAssertTrue(message.hasPrefix("unknown loss 'RaWGAN'; known losses: SGAN, SGAN-GP, RSGAN"), message)
            XCTAssertTrue(message.contains("RaHingeGAN-GP"), message)
        }
        XCTAssertEqual(try LossSpec(name: "rasgan-gp"), LossSpec(loss: .rasgan, gradientPenalty: true))
    }
}

final class GradientPenaltyTests: XCTestCase {
    /// A small critic with every layer kind the DCGAN discriminator has.
    func critic(_ w: [Tensor]) -> (Tensor) -> Tensor {
        { x in
            let h = leakyRelu(conv2d(x, weight: w[0], stride: 2, padding: 1), slope: 0.2)
            let b = batchNorm2dTraining(conv2d(h, weight: w[1], stride: 2, padding: 1), gamma: w[2], beta: w[3],
                                        runningMean: .zeros([3]), runningVar: .ones([3]))
            return conv2d(leakyRelu(b, slope: 0.2), weight: w[4]).reshaped([x.shape[0]])
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

final class TrainerTests: XCTestCase {
    func config(_ loss: String = "RaSGAN") -> GANConfig {
        var c = GANConfig()
        try! c.set("loss", loss); try! c.set("image_size", "32"); try! c.set("channels", "1")
        try! c.set("z_dim", "8"); try! c.set("ngf", "4"); try! c.set("ndf", "4"); try! c.set("seed", "7")
        return c
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
            let convs = { (m: Sequential) in m.layers.filter { $0 is Conv2d || $0 is ConvTranspose2d }.count }
            XCTAssertEqual(Instrumentation.convolutionWeightGradients - before,
                           2 * convs(t.discriminator.main) + convs(t.generator.main), loss)
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
            XCTAssertEqual(($0 as! SwiftGANError).message, "real: expected batches of shape [4, 1, 32, 32], got [4, 3, 32, 32]")
        }
        XCTAssertThrowsError(try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: 1)], mixing: [.zeros([3])])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "mixing: expected entries of shape [4], got [3]")
        }
        XCTAssertThrowsError(try t.generate(.zeros([2, 5]))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "z: expected shape [N, 8], got [2, 5]")
        }
        var c = GANConfig()
        XCTAssertThrowsError(try c.set("image_size", "48")) {
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
