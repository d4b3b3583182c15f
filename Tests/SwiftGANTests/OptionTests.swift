import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

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
            ("beta2_g", "1", "beta2_g must be a number in [0, 1), got '1'"),
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

/// The option table's scopes are true: an option set outside its scope is refused by the configuration's
/// checks (naming it) or changes nothing at all in training.
final class OptionScopeTests: XCTestCase {
    let bases = [
        "loss=RaSGAN\narch=dcgan\noptimizer=adam\nlr_schedule=constant",
        "loss=EBGAN\narch=autoencoder\noptimizer=rmsprop\nlr_schedule=linear\nlr_step=50",
        "loss=SGAN-GP\narch=mlp\nchannels=2\noptimizer=sgd\nlr_schedule=step\nlr_step=1",
    ].map { "image_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=4\n" + $0 }

    /// A valid value other than `current` for `option`.
    func otherValue(_ option: Option<GANConfig>, _ current: String) -> String {
        switch option.kind {
        case .boolean: return current == "true" ? "false" : "true"
        case .integer: return String(Int(current)! + 1)
        case .number(let rule):
            let v = Float(current)!
            return rule == .belowOne ? (v == 0.3 ? "0.6" : "0.3") : String(v * 2 + 0.25)
        default: preconditionFailure("no scoped option of kind \(option.kind.name)")
        }
    }

    func testAnOptionOutsideItsScopeIsRefusedOrChangesNothing() throws {
        var checked = 0
        for option in GANConfig.options where option.scope.text != "all" {
            let base = try bases.map { (text) throws(SwiftGANError) in try GANConfig(text: text) }
                .first { !option.scope.applies($0) }
            guard let base else { return XCTFail("no base configuration outside the scope of \(option.name)") }
            var changed = base
            try changed.set(option.name, otherValue(option, option.read(base)))
            XCTAssertFalse(option.scope.applies(changed), option.name)
            let reference = try GANTrainer(config: base)
            let trainer: GANTrainer
            do {
                trainer = try GANTrainer(config: changed)
            } catch {
                let stem = option.name.hasSuffix("_d") || option.name.hasSuffix("_g") ? String(option.name.dropLast(2)) : option.name
                XCTAssertTrue(error.message.contains(stem), "\(option.name): \(error.message)")
                checked += 1
                continue
            }
            let real = randomTensor([4] + base.sampleShape, seed: 7)
            for step in 0..<2 {
                XCTAssertEqual(try trainer.trainStep(real: [real]), try reference.trainStep(real: [real]), "\(option.name), step \(step)")
            }
            for ((name, a), (_, b)) in zip(trainer.fullState, reference.fullState) {
                XCTAssertTrue(a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern), "\(option.name) changed \(name)")
            }
            checked += 1
        }
        XCTAssertEqual(checked, GANConfig.options.filter { $0.scope.text != "all" }.count)
        XCTAssertGreaterThanOrEqual(checked, 30)
    }

    func testScopesNameWhatSelectsThem() {
        let scope = { (name: String) in GANConfig.options.first { $0.name == name }!.scope.text }
        XCTAssertEqual(scope("minimax"), "loss SGAN")
        XCTAssertEqual(scope("gp_weight"), "penalty -GP")
        XCTAssertEqual(scope("selu"), "arch dcgan|patchgan|autoencoder|ebgan")
        XCTAssertEqual(scope("rmsprop_alpha"), "optimizer rmsprop")
        XCTAssertEqual(scope("lr_gamma"), "lr_schedule step|began")
        XCTAssertEqual(scope("lr_d"), "all")
    }
}
