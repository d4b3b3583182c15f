import XCTest
@testable import SwiftGAN

/// The option table is the one description of every option: names, kinds, defaults, parsing.
final class OptionTests: XCTestCase {
    func testEveryOptionHasOneRowAndItsDefaultReadsBack() throws {
        let names = GANConfig.options.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "each option once")
        XCTAssertEqual(GANConfig().keyValues.map(\.0), names)
        var config = GANConfig()
        for option in GANConfig.options where option.name != "loss" {
            try config.set(option.name, option.defaultValue)
        }
        XCTAssertEqual(config, GANConfig(), "every default, written back, gives the default configuration")
    }

    func testEachKindRefusesWhatItDoesNotTakeWithTheOptionsName() {
        var config = GANConfig()
        let cases: [(String, String, String)] = [
            ("n_critic", "0", "n_critic must be an integer in [1, 1000], got '0'"),
            ("lr_d", "-1", "lr_d must be a positive number, got '-1'"),
            ("beta2_g", "1", "beta2_g must be [0, 1), got '1'"),
            ("gp_weight", "nan", "gp_weight must be a number ≥ 0, got 'nan'"),
            ("reuse_fake", "maybe", "reuse_fake must be true or false, got 'maybe'"),
            ("latent", "cauchy", "unknown latent 'cauchy'; known latents: normal, uniform"),
            ("seed", "-1", "seed must be an integer in [0, 2⁶⁴), got '-1'"),
            ("speed", "1", "unknown option 'speed'; known options: loss, minimax"),
        ]
        for (key, value, message) in cases {
            XCTAssertThrowsError(try config.set(key, value)) {
                XCTAssertTrue(($0 as! SwiftGANError).message.hasPrefix(message), "\(($0 as! SwiftGANError).message)")
            }
        }
        XCTAssertEqual(config, GANConfig(), "a refused value changes nothing")
    }
}

final class TrainerScalarTests: XCTestCase {
    func testTheTrainersScalarsReadAndRestoreByNameAndARefusedRestoreChangesNothing() throws {
        var config = GANConfig()
        for (k, v) in [("image_size", "32"), ("channels", "1"), ("z_dim", "8"), ("ngf", "4"), ("ndf", "4")] { try config.set(k, v) }
        let t = try GANTrainer(config: config), fresh = try GANTrainer(config: config)
        _ = try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: 1)])
        XCTAssertEqual(t.scalars.first { $0.0 == "iteration" }?.1, "1")
        XCTAssertEqual(t.scalars.first { $0.0 == "began.best_m_global" }?.1, "inf")
        try fresh.setScalars(t.scalars)
        XCTAssertEqual(fresh.scalars.map { "\($0.0)=\($0.1)" }, t.scalars.map { "\($0.0)=\($0.1)" })
        let before = fresh.scalars.map { "\($0.0)=\($0.1)" }
        XCTAssertThrowsError(try fresh.setScalars([("iteration", "9"), ("rng.0", "-1")])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "rng.0 must be an integer in [0, 2⁶⁴), got '-1'")
        }
        XCTAssertEqual(fresh.scalars.map { "\($0.0)=\($0.1)" }, before)
    }
}

final class LossTermTests: XCTestCase {
    /// The critic loss's terms on real and fake data sum to it bit for bit (halving is exact), for every objective
    /// whose loss splits so; the paired and all-pairs relativistic forms have none.
    func testTheCriticLossTermsSumExactlyToTheLoss() {
        let real = randomTensor([6], seed: 1), fake = randomTensor([6], seed: 2)
        for objective in AdversarialObjective.all {
            let loss = objective.discriminatorLoss(real: real, fake: fake, k: 0.3).scalar
            if let terms = objective.discriminatorLossTerms(real: real, fake: fake, k: 0.3) {
                XCTAssertEqual((terms.real + terms.fake).scalar, loss, objective.name)
            } else {
                XCTAssertTrue(objective.name.hasPrefix("RS") || objective.name.hasPrefix("RLS") || objective.name.hasPrefix("RH")
                              || objective.name.hasPrefix("Rp"), "\(objective.name) has no terms")
            }
        }
    }
}
