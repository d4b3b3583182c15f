import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

final class ModuleTreeTests: XCTestCase {
    /// A model lists every tensor of its tree once, named by its path, as `torch.nn.Module` does.
    func testEveryModelListsItsTreesBuffersUnderTheirPaths() throws {
        var rng = RandomGenerator(seed: 1)
        let g = try ResNetGenerator(imageSize: 32, channels: 3, zDim: 8, width: 4, rng: &rng)
        let buffers = g.namedBuffers.map(\.0)
        XCTAssertEqual(buffers.first, "blocks.0.main.0.running_mean")  // a batch norm three modules deep
        XCTAssertEqual(buffers.last, "out.0.running_var")
        XCTAssertEqual(buffers.count, 2 * 7)  // 3 blocks × 2 batch norms + the output's, mean and variance each
        XCTAssertEqual(Set(g.namedState.map(\.0)), Set(g.namedParameters.map(\.0) + buffers))
        // state_dict order: a module's parameters, then its buffers, then its children's.
        let state = g.namedState.map(\.0)
        XCTAssertEqual(Array(state.prefix(6)), ["dense.weight", "dense.bias", "blocks.0.main.0.weight", "blocks.0.main.0.bias",
                                                "blocks.0.main.0.running_mean", "blocks.0.main.0.running_var"])
        let dcgan = try DCGANGenerator(imageSize: 32, channels: 1, zDim: 8, width: 4, rng: &rng)
        XCTAssertEqual(dcgan.namedBuffers.map(\.0), ["main.1.running_mean", "main.1.running_var", "main.4.running_mean",
                                                     "main.4.running_var", "main.7.running_mean", "main.7.running_var"])
    }

    /// Switching a model to evaluation reaches every batch norm of its tree, however deep.
    func testSetTrainingReachesEveryDescendant() throws {
        var rng = RandomGenerator(seed: 2)
        let g = try ResNetGenerator(imageSize: 32, channels: 3, zDim: 8, width: 4, rng: &rng)
        func norms(_ m: Module) -> [BatchNorm2d] { ((m as? BatchNorm2d).map { [$0] } ?? []) + m.children.flatMap { norms($0.1) } }
        let all = norms(g)
        XCTAssertEqual(all.count, 7)
        g.setTraining(false)
        XCTAssertTrue(all.allSatisfy { !$0.isTraining })
        g.setTraining(true)
        XCTAssertTrue(all.allSatisfy(\.isTraining))
    }
}

final class ArchitectureRegistryTests: XCTestCase {
    /// Every architecture builds through its registry entry, and the entry's size rule names the architecture.
    func testEveryArchitectureBuildsFromItsEntryAndChecksItsSize() throws {
        for arch in Architecture.allCases {
            let loss = arch.networks.critic == .autoEncoder ? "EBGAN" : "RaSGAN"
            let size = arch.networks.imageSizes?.first ?? 32
            let c = try GANConfig(text: "loss=\(loss)\narch=\(arch.rawValue)\nimage_size=\(size)\nchannels=1\nngf=4\nndf=4\nz_dim=4")
            var rng = RandomGenerator(seed: 3)
            let (g, d) = try arch.makeNetworks(c.networkOptions, rng: &rng)
            XCTAssertFalse(g.namedParameters.isEmpty, arch.rawValue)
            XCTAssertFalse(d.namedParameters.isEmpty, arch.rawValue)
            XCTAssertFalse(arch.networks.summary.isEmpty)
            XCTAssertEqual(Catalogue.architectures.first { $0.0 == arch.rawValue }?.1, arch.networks.summary)
        }
        XCTAssertThrowsError(try GANTrainer(config: GANConfig(text: "arch=patchgan\nimage_size=48"))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "image_size must be one of [32, 64, 128, 256] for arch 'patchgan', got 48")
        }
        XCTAssertThrowsError(try GANTrainer(config: GANConfig(text: "arch=cnn\nimage_size=64"))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "image_size must be 32 for arch 'cnn', got 64")
        }
        XCTAssertThrowsError(try GANTrainer(config: GANConfig(text: "arch=resnet\nimage_size=128"))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "image_size must be 32 or 64 for arch 'resnet', got 128")
        }
    }
}

final class EnergyBasedTests: XCTestCase {
    /// An energy-based objective refuses a discriminator that is not an auto-encoder (a typed error, not a crash).
    func testAnEnergyCriticNeedsAnAutoEncoder() throws {
        var rng = RandomGenerator(seed: 4)
        let mlp = MLP(inputs: 2, hidden: 4, outputs: 1, squeezeOutput: true, rng: &rng)
        XCTAssertThrowsError(try Critic(mlp, for: .boundaryEquilibrium(gamma: 0.5, lambdaK: 0.001))) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "loss BEGAN needs an auto-encoder critic, got MLP")
        }
        guard case .outputs = try Critic(mlp, for: .hinge) else { return XCTFail("a plain critic scores with D's outputs") }
        let ae = MLPAutoEncoder(inputs: 2, hidden: 4, code: 3, rng: &rng)
        let x = randomTensor([5, 2], seed: 5)
        let energies = try Critic(ae, for: .energy(margin: 1, pullAwayWeight: 0.1))(x).scalars
        let reconstruction = ae(x).scalars, values = x.scalars
        for i in 0..<5 {  // e(x) = mean over the sample's values of (x − AE(x))²
            let e = (0..<2).map { j in Double(values[i * 2 + j] - reconstruction[i * 2 + j]) }.map { $0 * $0 }.reduce(0, +) / 2
            XCTAssertEqual(Double(energies[i]), e, accuracy: 1e-6)
        }
    }

    /// BEGAN's k_t, M_global and the `began` schedule, against the paper's formulas written out.
    func testTheEquilibriumFollowsBEGANsUpdate() {
        var eq = Equilibrium()
        let (k, m) = eq.update(gamma: 0.5, lambdaK: 0.1, realEnergy: 0.8, fakeEnergy: 0.1, schedule: (patience: 2, factor: 0.5))
        XCTAssertEqual(k, 0.1 * (0.5 * 0.8 - 0.1), accuracy: 1e-7)
        XCTAssertEqual(m, 0.8 + abs(0.5 * 0.8 - 0.1), accuracy: 1e-7)
        XCTAssertEqual(eq.bestMGlobal, m)
        for _ in 0..<2 { _ = eq.update(gamma: 0.5, lambdaK: 10, realEnergy: 2, fakeEnergy: 0, schedule: (patience: 2, factor: 0.5)) }
        XCTAssertEqual(eq.k, 1)  // clipped to [0, 1]
        XCTAssertEqual(eq.learningRateFactor, 0.5)  // M_global did not improve for two iterations
        XCTAssertEqual(eq.sinceBest, 0)
        XCTAssertNil(AdversarialObjective.hinge.endIteration(&eq, criticReal: 1, generatorLoss: 1, schedule: nil))
    }
}
