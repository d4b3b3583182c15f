import XCTest
@testable import SwiftGAN

/// K ranks (threads, `ThreadGroup`) each given the whole batch of B and computing on B / K of it equal one process
/// at batch B, up to summation order: every loss, every gradient and the weights after 3 iterations.
///
/// Up to summation order holds where every ReLU, leaky ReLU, abs or clamp takes the same branch in both runs. An
/// input within rounding of a kink can take the other one on the ranks (measured: seed 3's WGAN-GP with 2 critic
/// steps put one of the critic's last batch-norm outputs at 1.5e-7, and 2 ranks computed it as −2.4e-7; the
/// generator's gradients then differed by 5%), and which side it falls on is the processor's rounding, so a
/// verdict on such a run would be the processor's. Each run records its branches (`BranchLog`); a seed whose
/// ranks took another branch anywhere is set aside for the next, and the comparison is made on the first seed
/// with none.
final class DataParallelTests: XCTestCase {
    /// One run's record: the statistics and the retained gradients of each iteration, and the final full state.
    struct Run {
        var stats: [[Float]] = []
        var gradients: [[String: [Float]]] = []
        var state: [(String, [Float])] = []
        /// Per iteration, the calls of the kinked kernels (`BranchLog`).
        var branches: [[BranchLog.Call]] = []
        var failure: String?
    }

    static let iterations = 3

    /// `iterations` steps of `config` on batches of `batch` drawn from a stream seeded 7, on one rank of
    /// `communicator`.
    static func train(_ config: String, batch: Int, communicator: any Communicator) -> Run {
        var run = Run()
        do {
            let trainer = try GANTrainer(config: GANConfig(text: config))
            trainer.setCommunicator(communicator)
            trainer.retainGradients = true
            _ = trainer.forwardBytes(batch: 1)  // the first step's memory estimate: forward passes outside the step's log
            var data = RandomGenerator(seed: 7)
            for _ in 0..<iterations {
                let real = Tensor.uniform([batch] + trainer.sampleShape, low: -1, high: 1, rng: &data)
                let (stats, calls) = try BranchLog.recording { () throws(SwiftGANError) in try trainer.trainStep(real: [real]) }
                run.stats.append(stats.values)
                run.branches.append(calls)
                run.gradients.append(trainer.retainedGradients.mapValues { Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count)) })
            }
            run.state = trainer.fullState.map { ($0.0, Array(UnsafeBufferPointer(start: $0.1.pointer, count: $0.1.count))) }
        } catch {
            run.failure = "\(error)"
        }
        return run
    }

    /// The largest |a − b| over a tensor, in units of that tensor's largest |b| (at least `floor`).
    static func relativeDifference(_ a: [Float], _ b: [Float], floor: Float = 1e-3) -> Float {
        precondition(a.count == b.count)
        var scale = floor, worst: Float = 0
        for v in b { scale = max(scale, abs(v)) }
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
        return worst / scale
    }

    /// What a flip by rounding can look like: at most this many elements on another branch in the first call
    /// that differs (a second element within rounding of a kink in the same call is already rare) ...
    static let roundingFlips = 2
    /// ... and, in one process, an input of that call this near a kink, in units of the call's RMS input
    /// (`BranchLog.Call.margin`): 1000 times float32's rounding, so a flip by rounding is always inside it.
    static let roundingMargin: Float = 1e-4

    /// The first kinked call where the ranks decided otherwise than one process, nil where none did. A call
    /// over the whole batch on each rank (a loss over gathered values) must decide as the one process does on
    /// every rank; a call over the rank's slice must, summed over the ranks. `byRounding` says whether rounding
    /// can explain it (`roundingFlips`, `roundingMargin`); calls that do not pair up cannot be explained by it.
    static func firstBranchDifference(_ runs: [Run], _ single: Run) -> (iteration: Int, what: String, byRounding: Bool)? {
        for i in single.branches.indices {
            let own = single.branches[i], theirs = runs.map { $0.branches[i] }
            guard theirs.allSatisfy({ $0.count == own.count }) else {
                return (i + 1, "\(own.count) kinked calls in one process, \(theirs.map(\.count)) on the ranks", false)
            }
            for (j, call) in own.enumerated() {
                let calls = theirs.map { $0[j] }
                let moved: Int  // at least this many elements took another branch
                if calls.allSatisfy({ $0.elements == call.elements }) {
                    moved = calls.map { abs($0.branchSum - call.branchSum) }.max()!
                } else if calls.map(\.elements).reduce(0, +) == call.elements {
                    moved = abs(calls.map(\.branchSum).reduce(0, +) - call.branchSum)
                } else {
                    return (i + 1, "call \(j + 1) decided \(call.elements) elements in one process, \(calls.map(\.elements)) on "
                            + "the ranks", false)
                }
                if moved > 0 {
                    return (i + 1, "call \(j + 1) of \(own.count), \(call.elements) elements: branch sum \(call.branchSum) in one "
                            + "process, \(calls.map(\.branchSum)) on the ranks; nearest input to a kink \(call.margin) RMS",
                            moved <= roundingFlips && call.margin <= roundingMargin)
                }
            }
        }
        return nil
    }

    /// Checks that `ranks` ranks equal one process for `config` (a batch of 16), every rank alike, on the first
    /// of `seeds` whose runs take the same branches everywhere; on a seed set aside, the iterations before its
    /// flip.
    func checkRanksEqualOneProcess(_ config: String, ranks: Int = 2, batch: Int = 16, seeds: ClosedRange<Int> = 3...7,
                                   tolerance: Float = 2e-4, file: StaticString = #filePath, line: UInt = #line) {
        let label = config.replacingOccurrences(of: "\n", with: " ")
        for seed in seeds {
            let base = "image_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=8\nseed=\(seed)\n" + config
            let single = Self.train(base, batch: batch, communicator: SingleProcess())
            let runs = PerRank<Run>(ranks)
            runRanks(ranks) { comm in runs.values[comm.rank] = Self.train(base, batch: batch, communicator: comm) }
            let failures = ([single] + runs.values.map { $0! }).compactMap(\.failure)
            guard failures.isEmpty else { return XCTFail("a run failed: \(failures)", file: file, line: line) }
            let ranked = runs.values.map { $0! }
            guard let flip = Self.firstBranchDifference(ranked, single) else {
                return compare(ranked, single, "\(label) seed=\(seed)", tolerance: tolerance, file: file, line: line)
            }
            guard flip.byRounding else {
                compare(ranked, single, "\(label) seed=\(seed)", iterations: flip.iteration - 1, tolerance: tolerance, file: file, line: line)
                return XCTFail("seed \(seed), iteration \(flip.iteration): the ranks took other branches than rounding "
                               + "explains: \(flip.what)", file: file, line: line)
            }
            compare(ranked, single, "\(label) seed=\(seed)", iterations: flip.iteration - 1, tolerance: tolerance, file: file, line: line)
            print("[data parallel] \(label) seed=\(seed): an input within rounding of a kink took the other branch on the "
                  + "ranks at iteration \(flip.iteration) (\(flip.what)); next seed")
        }
        XCTFail("every seed in \(seeds) met a kink within rounding", file: file, line: line)
    }

    /// The comparison of `checkRanksEqualOneProcess` over the first `iterations` (the final state too when
    /// that is all of them), for runs that took the same branches there.
    func compare(_ runs: [Run], _ single: Run, _ label: String, iterations: Int = DataParallelTests.iterations,
                 tolerance: Float, file: StaticString, line: UInt) {
        let ranks = runs.count
        var worstGradient: Float = 0, worstWeight: Float = 0, worstStat: Float = 0
        for r in 0..<ranks {
            let run = runs[r]
            for i in 0..<iterations {
                for (j, (a, b)) in zip(run.stats[i], single.stats[i]).enumerated() where !(a.isNaN && b.isNaN) {
                    let d = abs(a - b) / max(abs(b), 1e-3)
                    worstStat = max(worstStat, d)
                    XCTAssertLessThanOrEqual(d, tolerance, "rank \(r), iteration \(i + 1), \(StepStats.fields[j].name): \(a) vs \(b)",
                                             file: file, line: line)
                }
                XCTAssertEqual(Set(run.gradients[i].keys), Set(single.gradients[i].keys), file: file, line: line)
                for (name, g) in single.gradients[i] {
                    let d = Self.relativeDifference(run.gradients[i][name]!, g)
                    worstGradient = max(worstGradient, d)
                    XCTAssertLessThanOrEqual(d, tolerance, "rank \(r), iteration \(i + 1), gradient of \(name)", file: file, line: line)
                }
            }
            guard iterations == Self.iterations else { continue }
            XCTAssertEqual(run.state.map(\.0), single.state.map(\.0), file: file, line: line)
            for ((name, w), (_, v)) in zip(run.state, single.state) {
                let d = Self.relativeDifference(w, v)
                worstWeight = max(worstWeight, d)
                XCTAssertLessThanOrEqual(d, tolerance, "rank \(r), \(name) after \(Self.iterations) iterations", file: file, line: line)
                if r > 0 { XCTAssertEqual(w, runs[0].state.first { $0.0 == name }!.1, "rank \(r) and rank 0 differ in \(name)",
                                          file: file, line: line) }
            }
        }
        print("[data parallel] \(label): worst relative difference over \(iterations) iterations: statistics \(worstStat), "
              + "gradients \(worstGradient)" + (iterations == Self.iterations ? ", state \(worstWeight)" : ""))
    }

    func testRaSGANOnTwoRanksEqualsOneProcessAtTheWholeBatch() { checkRanksEqualOneProcess("loss=RaSGAN") }

    func testRaLSGANGPDifferentiatesTwiceThroughSynchronisedBatchNorm() { checkRanksEqualOneProcess("loss=RaLSGAN-GP") }

    func testRpSGANAllPairsOnTwoRanks() { checkRanksEqualOneProcess("loss=RpSGAN-avg") }

    func testDRAGANTakesTheWholeBatchStandardDeviation() { checkRanksEqualOneProcess("loss=DRAGAN") }

    // The auto-encoder critic puts a Linear's bias before a batch norm: its gradient in the critic's step is 0 up
    // to rounding, so Adam's first update there is ±lr by the sign of rounding noise, in one process too (1 thread
    // against 2, same batch: BEGAN's weights 1.4e-3 apart, EBGAN's gradients 4.8e-3 by the third iteration, since its
    // pull-away term reads that bias). These two compare under SGD, where noise stays the size of noise.
    func testBEGANEquilibriumIsGlobal() { checkRanksEqualOneProcess("loss=BEGAN\narch=autoencoder\noptimizer=sgd") }

    func testEBGANPullAwayTermIsOverTheWholeBatch() { checkRanksEqualOneProcess("loss=EBGAN\narch=autoencoder\noptimizer=sgd") }

    func testPackTwoSlicesWholePacks() { checkRanksEqualOneProcess("loss=RaSGAN\npack=2") }

    func testSpectralNormVectorsAndTheMovingAverageFollowIdenticalWeights() {
        checkRanksEqualOneProcess("loss=RaSGAN\nspectral_norm_d=true\nema_decay=0.9")
    }

    func testFourRanksAndTwoCriticSteps() { checkRanksEqualOneProcess("loss=WGAN-GP\nn_critic=2", ranks: 4) }

    // The ResNet critic has no buffers: each rank differentiates the gradient penalty before the adversarial term.
    // Under SGD, as above: the biases of the ResNet generator's last block (G.blocks.2.main.6.bias,
    // G.blocks.2.shortcut.1.bias) feed the output's batch norm, so Adam's first update there is ±lr by the sign of
    // rounding noise (measured: state 0.043 apart under Adam with n_critic 2; 2.2e-7 under SGD with n_critic 1).
    func testABufferFreeCriticsPenaltyFirstOnTwoRanks() { checkRanksEqualOneProcess("loss=WGAN-GP\narch=resnet\noptimizer=sgd") }

    func testARankThatFailsEndsTheOthersStepWithItsMessageAndNothingApplied() {
        let config = "image_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=8\nseed=3\nloss=RaLSGAN-GP"
        let errors = PerRank<String>(2), unchanged = PerRank<Bool>(2)
        runRanks(2) { comm in
            do {
                let trainer = try GANTrainer(config: GANConfig(text: config))
                trainer.setCommunicator(comm)
                var data = RandomGenerator(seed: 7)
                let real = Tensor.uniform([16] + trainer.sampleShape, low: -1, high: 1, rng: &data)
                _ = try trainer.trainStep(real: [real])
                let before = trainer.fullState.map { $0.1.copy() }, scalars = trainer.scalars
                if comm.rank == 1 {
                    comm.abandon("could not read batch 2: disk full")
                    errors.values[1] = comm.failure
                    return
                }
                do {
                    _ = try trainer.trainStep(real: [real])
                    errors.values[0] = "no error"
                } catch {
                    errors.values[0] = (error as? SwiftGANError)?.message ?? "\(error)"
                    unchanged.values[0] = zip(trainer.fullState, before).allSatisfy { a, b in
                        (0..<a.1.count).allSatisfy { a.1.pointer[$0].bitPattern == b.pointer[$0].bitPattern }
                    } && trainer.scalars.map(\.1) == scalars.map(\.1)
                }
            } catch {
                errors.values[comm.rank] = "unexpected: \(error)"
            }
        }
        XCTAssertEqual(errors.values[1], "rank 1 of 2: could not read batch 2: disk full")
        let message = errors.values[0] ?? ""
        XCTAssertTrue(message.hasPrefix("iteration 2 was not applied: rank 0 of 2: "), message)
        XCTAssertTrue(message.hasSuffix("failed: rank 1: could not read batch 2: disk full"), message)
        XCTAssertEqual(unchanged.values[0], true, "rank 0's state after the refused iteration")
    }

    func testABatchThatDoesNotDivideAmongTheRanksIsRefusedByName() {
        let errors = PerRank<String>(3)
        runRanks(3) { comm in
            do {
                let trainer = try GANTrainer(config: GANConfig(text: "image_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=8\npack=2"))
                trainer.setCommunicator(comm)
                _ = try trainer.trainStep(real: [Tensor.zeros([16, 1, 32, 32])])
                errors.values[comm.rank] = "no error"
            } catch {
                errors.values[comm.rank] = (error as? SwiftGANError)?.message ?? "\(error)"
            }
        }
        for r in 0..<3 {
            XCTAssertEqual(errors.values[r], "real must hold the whole batch, 3 × pack = 2 × at least 2 samples and a multiple "
                           + "of 6 (each of the 3 ranks takes an equal slice of the critic's batch of packs of 2), got 16")
        }
    }

    func testACheckpointOfTwoRanksResumesInOneProcess() {
        // The state holds no rank count: 2 ranks' state after 2 iterations, loaded into one process, takes the third
        // iteration to where 2 ranks take it (up to summation order: on the first seed whose third iteration takes
        // the same branches in both, as `checkRanksEqualOneProcess`).
        for seed in 3...7 {
            let config = "image_size=32\nchannels=1\nngf=4\nndf=4\nz_dim=8\nseed=\(seed)\nloss=RaLSGAN-GP"
            let whole = PerRank<Run>(2)
            runRanks(2) { comm in whole.values[comm.rank] = Self.train(config, batch: 16, communicator: comm) }
            let saved = PerRank<([[Float]], [(String, String)])>(2)
            runRanks(2) { comm in
                guard let trainer = try? GANTrainer(config: GANConfig(text: config)) else { return }
                trainer.setCommunicator(comm)
                var data = RandomGenerator(seed: 7)
                for _ in 0..<2 {
                    let real = Tensor.uniform([16] + trainer.sampleShape, low: -1, high: 1, rng: &data)
                    _ = try? trainer.trainStep(real: [real])
                }
                saved.values[comm.rank] = (trainer.fullState.map { Array(UnsafeBufferPointer(start: $0.1.pointer, count: $0.1.count)) },
                                           trainer.scalars)
            }
            guard let (tensors, scalars) = saved.values[0], let expected = whole.values[0], expected.failure == nil,
                  let other = whole.values[1], other.failure == nil else {
                return XCTFail("the 2-rank runs failed: \(whole.values.compactMap { $0?.failure })")
            }
            do {
                let trainer = try GANTrainer(config: GANConfig(text: config))
                for ((_, t), values) in zip(trainer.fullState, tensors) { t.assign(from: values) }
                try trainer.setScalars(scalars)
                _ = trainer.forwardBytes(batch: 1)  // as `train` does
                var data = RandomGenerator(seed: 7)
                var real = Tensor.zeros([1])
                for _ in 0..<3 { real = Tensor.uniform([16] + trainer.sampleShape, low: -1, high: 1, rng: &data) }
                let calls = try BranchLog.recording { () throws(SwiftGANError) in try trainer.trainStep(real: [real]) }.calls
                let third = [expected, other].map { Run(branches: [$0.branches[2]]) }
                if let flip = Self.firstBranchDifference(third, Run(branches: [calls])) {
                    guard flip.byRounding else { return XCTFail("seed \(seed): other branches than rounding explains: \(flip.what)") }
                    print("[data parallel] resuming, seed=\(seed): an input within rounding of a kink took the other branch "
                          + "(\(flip.what)); next seed")
                    continue
                }
                let state = trainer.fullState
                XCTAssertEqual(state.map(\.0), expected.state.map(\.0))
                for ((name, t), (_, want)) in zip(state, expected.state) {
                    let d = Self.relativeDifference(Array(UnsafeBufferPointer(start: t.pointer, count: t.count)), want)
                    XCTAssertLessThanOrEqual(d, 2e-4, "seed \(seed): \(name) after resuming 2 ranks' iteration 2 in one process")
                }
                XCTAssertEqual(trainer.scalars.map(\.1), Self.scalarsAfter(config, iterations: 3))
                return
            } catch {
                return XCTFail("\(error)")
            }
        }
        XCTFail("every seed in 3...7 met a kink within rounding")
    }

    /// The trainer scalars (iteration, step counts, random stream, ...) of one process after `iterations` steps.
    static func scalarsAfter(_ config: String, iterations: Int) -> [String] {
        guard let trainer = try? GANTrainer(config: GANConfig(text: config)) else { return [] }
        var data = RandomGenerator(seed: 7)
        for _ in 0..<iterations {
            _ = try? trainer.trainStep(real: [Tensor.uniform([16] + trainer.sampleShape, low: -1, high: 1, rng: &data)])
        }
        return trainer.scalars.map(\.1)
    }
}
