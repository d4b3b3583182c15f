import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

/// A non-finite loss, gradient or update is never applied: a diverged error names the iteration and the term
/// and leaves the trainer as it was, or (`non_finite=skip`) the iteration is counted as skipped.
final class NonFiniteTests: XCTestCase {
    func small(_ extra: String = "") throws -> GANTrainer {
        try GANTrainer(config: GANConfig(text: "image_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=4\n" + extra))
    }

    /// Every tensor of the trainer's state and every scalar, as bit patterns.
    func snapshot(_ t: GANTrainer) -> [String] {
        t.fullState.map { "\($0.0)=\($0.1.scalars.map(\.bitPattern))" } + t.scalars.map { "\($0.0)=\($0.1)" }
    }

    func testABatchWithOneNaNOrAHugeValueIsRefusedAndChangesNothing() throws {
        for (value, term) in [(Float.nan, "the critic's loss (RaSGAN) (nan)"), (1e30, "D.main.3.running_var, a buffer the forward pass updated,")] {
            let t = try small("loss=RaSGAN-GP")
            _ = try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: 1)])  // moments, buffers and stream in use
            let before = snapshot(t)
            let real = randomTensor([4, 1, 32, 32], seed: 2)
            real.pointer[123] = value
            XCTAssertThrowsError(try t.trainStep(real: [real])) {
                let error = $0 as! SwiftGANError
                XCTAssertEqual(error.kind, .diverged)
                XCTAssertTrue(error.message.hasPrefix("iteration 2, the critic step: \(term) is not finite; nothing of this "
                                                      + "iteration was applied. Try lower learning rates"), error.message)
            }
            XCTAssertEqual(snapshot(t), before, "value \(value)")
            XCTAssertNoThrow(try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: 3)]), "training goes on")
        }
    }

    /// A huge value that keeps the loss and every gradient finite still overflows a batch norm's running
    /// variance (the "1e30 in one pixel": the step reported finite losses and left non-finite state).
    func testABufferTheForwardPassMadeNonFiniteIsRefusedAndRestored() throws {
        let t = try GANTrainer(config: GANConfig(text: "image_size=32\nchannels=1\nngf=8\nndf=8\nz_dim=16\nseed=0"))
        let before = snapshot(t)
        let real = randomTensor([16, 1, 32, 32], seed: 0)
        real.pointer[0] = 1e30
        XCTAssertThrowsError(try t.trainStep(real: [real])) {
            let message = ($0 as! SwiftGANError).message
            XCTAssertTrue(message.hasPrefix("iteration 1, the critic step: D.main.3.running_var, a buffer the forward pass "
                                            + "updated, is not finite; nothing of this iteration was applied."), message)
        }
        XCTAssertEqual(snapshot(t), before)
    }

    func testSkipCountsTheIterationAndAppliesNothing() throws {
        let t = try small("non_finite=skip")
        let before = snapshot(t).filter { !$0.hasPrefix("iteration=") && !$0.hasPrefix("skipped_steps=") }
        let real = randomTensor([4, 1, 32, 32], seed: 2)
        real.pointer[0] = .infinity
        let stats = try t.trainStep(real: [real])
        XCTAssertEqual(stats.skippedSteps, 1)
        XCTAssertTrue(stats.discriminatorLoss.isNaN || stats.discriminatorLoss.isInfinite)
        XCTAssertEqual([t.iteration, t.skippedSteps], [1, 1])
        XCTAssertEqual(snapshot(t).filter { !$0.hasPrefix("iteration=") && !$0.hasPrefix("skipped_steps=") }, before)
        XCTAssertEqual(try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: 3)]).skippedSteps, 1)
        XCTAssertEqual(t.scalars.first { $0.0 == "skipped_steps" }?.1, "1", "the count is checkpoint state")
    }

    /// LSGAN with SGD at lr 1e4 (the example) stops with a diverged error, its weights finite.
    func testARunawayLearningRateStopsBeforeAnyWeightTurnsNonFinite() throws {
        let t = try small("loss=LSGAN\noptimizer=sgd\nlr_d=10000\nlr_g=10000")
        var diverged: SwiftGANError?
        for step in 0..<20 {
            let before = snapshot(t)
            do {
                _ = try t.trainStep(real: [randomTensor([4, 1, 32, 32], seed: UInt64(step))])
            } catch {
                diverged = error
                if error.message.contains("nothing of this iteration was applied") {
                    XCTAssertEqual(snapshot(t), before)
                }
                break
            }
        }
        let error = try XCTUnwrap(diverged, "lr 1e4 must diverge within 20 iterations")
        XCTAssertEqual(error.kind, .diverged)
        for (name, tensor) in t.fullState { XCTAssertTrue(tensor.scalars.allSatisfy(\.isFinite), name) }
    }

    /// The read-only check follows each optimizer's arithmetic: a finite gradient whose update overflows is
    /// found, and a finite one is not.
    func testEachOptimizerFindsAnOverflowingUpdateBeforeMakingIt() {
        let w = Tensor([1, 3e38], shape: [2]), g = Tensor([0.5, -1e38], shape: [2])
        let small = Tensor([0.5, 0.25], shape: [2])
        for optimizer: Optimizer in [SGD(learningRate: 10), Adam(parameters: [small, w], learningRate: 1e37),
                                     RMSprop(parameters: [small, w], learningRate: 1e37)] {
            XCTAssertEqual(optimizer.firstNonFiniteUpdate([small, w], [small, g], learningRateFactor: 1), 1, "\(type(of: optimizer))")
            XCTAssertNil(optimizer.firstNonFiniteUpdate([small, small], [small, small], learningRateFactor: 1), "\(type(of: optimizer))")
            XCTAssertEqual(optimizer.stepCount, 0, "the check applies nothing")
        }
        XCTAssertEqual(w.scalars, [1, 3e38])
    }

    /// An update in two halves (`stepParameters`, then `commitState`) is `step`, bit for bit, for each optimizer:
    /// between the halves the parameters are the new ones and the state and count the old; over several updates
    /// with the bias corrections and a schedule's factor. Values span many magnitudes, with zeros and signs, so
    /// that any difference of arithmetic between the paths shows.
    func testAnUpdateInTwoHalvesIsTheWholeUpdateToTheBit() {
        func tensors(_ seed: UInt64) -> [Tensor] {
            [randomTensor([3, 5], seed: seed, low: -3, high: 3), randomTensor([1000], seed: seed + 1, low: -1e-3, high: 1e-3),
             Tensor([0, -0, 1e-30, -7e20, 3], shape: [5])]
        }
        func bits(_ ts: [Tensor]) -> [[UInt32]] { ts.map { $0.scalars.map(\.bitPattern) } }
        let makers: [(String, ([Tensor]) -> Optimizer)] = [
            ("Adam", { Adam(parameters: $0, learningRate: 2e-4, beta1: 0.5, beta2: 0.999) }),
            ("RMSprop", { RMSprop(parameters: $0, learningRate: 5e-5) }),
            ("SGD", { _ in SGD(learningRate: 0.1) }),
        ]
        for (name, make) in makers {
            let whole = tensors(1), halves = tensors(1)
            let a = make(whole), b = make(halves)
            for (t, factor) in zip(1...4, [Float(1), 1, 0.5, 0.25]) {
                let g = tensors(UInt64(10 * t))
                a.step(whole, g, learningRateFactor: factor)
                let stateBefore = bits(b.namedState.map(\.1))
                b.stepParameters(halves, g, learningRateFactor: factor)
                XCTAssertEqual(bits(halves), bits(whole), "\(name), update \(t): the parameters")
                XCTAssertEqual(bits(b.namedState.map(\.1)), stateBefore, "\(name), update \(t): the state before commitState")
                XCTAssertEqual(b.stepCount, t - 1, name)
                b.commitState(g, learningRateFactor: factor)
                XCTAssertEqual(bits(b.namedState.map(\.1)), bits(a.namedState.map(\.1)), "\(name), update \(t): the state")
                XCTAssertEqual(b.stepCount, a.stepCount, name)
            }
        }
    }

    /// With one critic step per iteration, what the iteration keeps to undo the critic's update while the generator
    /// step runs is the critic's parameters and gradients (two copies of its size), not its parameters and Adam's
    /// two moments (three): the generator step, where a step's memory peaks, holds one critic's size less. The
    /// iteration trains to the same bits as with the whole update and its whole copy (n_critic 2 counts the other
    /// path, whose first critic update is whole).
    func testOneCriticStepKeepsTheCriticsParametersAndGradientsNotItsMoments() throws {
        let t = try small("loss=RaSGAN")
        let real = randomTensor([4, 1, 32, 32], seed: 1)
        _ = try t.trainStep(real: [real])
        let critic = t.parametersD.reduce(0) { $0 + MemoryBudget.bytes(ofTensor: $1.count) }
        let start = IterationStart(t, defersCriticState: true)
        let fake = randomTensor([4, 1, 32, 32], seed: 2)
        let before = BufferPool.shared.liveBytes
        let (_, nonFinite) = t.discriminatorStep(real: real, fake: fake, penaltyInputs: PenaltyInputs(),
                                                 learningRateFactor: 1, iterationStart: start)
        XCTAssertNil(nonFinite)
        let held = BufferPool.shared.liveBytes - before
        XCTAssertGreaterThanOrEqual(held, 2 * critic, "the parameters' copy and the gradients")
        XCTAssertLessThan(held, 3 * critic, "not the parameters' and both moments' copies")

        // the same update as the whole one, once the generator step passed
        let twin = try small("loss=RaSGAN")
        _ = try twin.trainStep(real: [real])
        let whole = IterationStart(twin)
        _ = twin.discriminatorStep(real: real, fake: fake, penaltyInputs: PenaltyInputs(), learningRateFactor: 1,
                                   iterationStart: whole)
        XCTAssertEqual(t.parametersD.map(\.scalars), twin.parametersD.map(\.scalars))
        XCTAssertNotEqual(snapshot(t), snapshot(twin), "the moments are not yet written")
        start.completeCriticUpdate(t)
        XCTAssertEqual(snapshot(t), snapshot(twin))
    }

    /// Principle 5: whichever term is refused, after critic updates of the same iteration were applied (the second
    /// critic step's batch, or the generator step), in raise and in skip, the trainer is exactly as before.
    func testARefusalAfterAppliedCriticUpdatesPutsThemBack() throws {
        for mode in ["raise", "skip"] {
            for (extra, poison) in [("n_critic=2", 1), ("lr_g=1e38", -1)] {
                let t = try small("loss=RaSGAN-GP\nnon_finite=\(mode)\n\(extra)")
                let k = t.config.criticSteps
                _ = try t.trainStep(real: (0..<k).map { randomTensor([4, 1, 32, 32], seed: UInt64($0)) })
                let before = snapshot(t)
                let batches = (0..<k).map { randomTensor([4, 1, 32, 32], seed: UInt64(10 + $0)) }
                if poison >= 0 { batches[poison].pointer[7] = .nan }
                if mode == "raise" {
                    XCTAssertThrowsError(try t.trainStep(real: batches)) {
                        XCTAssertTrue(($0 as! SwiftGANError).message.contains("nothing of this iteration was applied"))
                    }
                    XCTAssertEqual(snapshot(t), before, "\(mode) \(extra)")
                } else {
                    let stats = try t.trainStep(real: batches)
                    XCTAssertEqual(stats.skippedSteps, 1)
                    let after = snapshot(t).filter { !$0.hasPrefix("iteration=") && !$0.hasPrefix("skipped_steps=") }
                    XCTAssertEqual(after, before.filter { !$0.hasPrefix("iteration=") && !$0.hasPrefix("skipped_steps=") },
                                   "\(mode) \(extra)")
                }
            }
        }
    }
}
