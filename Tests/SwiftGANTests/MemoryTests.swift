import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

/// Principle 3 of the Guarantees: a lack of memory is an error checked before the work, never a crash. These
/// check the checks: counting a construction allocates nothing and counts what the real one takes, and a first
/// step's estimate covers what every loss and architecture really takes.
final class MemoryTests: XCTestCase {
    func testCountingTheNetworksCountsWhatBuildingThemTakesAndAllocatesNothing() throws {
        for text in ["arch=dcgan\nngf=8\nndf=8", "arch=resnet\nngf=8\nndf=8\nspectral_norm_d=true\nspectral_norm_g=true", "arch=began\nloss=BEGAN",
                     "arch=mlp\nimage_size=2\nchannels=2"] {
            let config = try GANConfig(text: "image_size=32\nchannels=1\nz_dim=8\n" + text)
            var rng = RandomGenerator(seed: 0)
            let taken = BufferPool.shared.takenBytes
            let (_, counted) = try AllocationCount.counting { () throws(SwiftGANError) in
                try config.architecture.makeNetworks(config.networkOptions, rng: &rng)
            }
            XCTAssertEqual(BufferPool.shared.takenBytes, taken, text)
            let networks = try config.architecture.makeNetworks(config.networkOptions, rng: &rng)
            let real = (networks.0.namedState + networks.1.namedState).reduce(0) { $0 + $1.1.count * 4 }
            XCTAssertGreaterThanOrEqual(counted, real, text)
            XCTAssertLessThanOrEqual(counted, real * 2, text)  // the same tensors, plus any scratch of the build
        }
    }

    /// A matrix product's working copies, its operands rounded to bfloat16 (precision bf16) or widened to double
    /// (a reduction of 512 terms or more), are the pool's buffers, cut from its free blocks and counted in its peak,
    /// not the C heap's; the product is still right (against a float64 loop, to float32's rounding).
    func testAMatrixProductsWorkingCopiesAreThePoolsBuffers() {
        for (precision, k, copyBytes) in [(Precision.bf16, 64, 4), (.fp32, 600, 8)] {
            let (m, n) = (48, 40)
            let a = randomTensor([m, k], seed: 1), b = randomTensor([k, n], seed: 2)
            let c = Tensor(uninitialized: [m, n])
            let base = BufferPool.shared.resetPeak()
            Precision.using(precision) { sgemm(c.pointer, a.pointer, b.pointer, m: m, n: n, k: k) }
            let working = BufferPool.shared.peakLiveBytes - base
            let copies = (m * k + k * n + (precision == .fp32 ? m * n : 0)) * copyBytes
            XCTAssertGreaterThanOrEqual(working, copies, "\(precision), k = \(k): the copies are taken from the pool")
            XCTAssertLessThan(working, copies + 3 * BufferPool.pageElements * 4, "\(precision), k = \(k)")
            XCTAssertEqual(BufferPool.shared.liveBytes, base, "\(precision), k = \(k): and given back")
            let round: (Float) -> Float = precision == .bf16 ? roundedToBFloat16 : { $0 }
            for i in 0..<m {
                for j in 0..<n {
                    var exact = 0.0, magnitude = 0.0
                    for l in 0..<k {
                        let term = Double(round(a.pointer[i * k + l])) * Double(round(b.pointer[l * n + j]))
                        exact += term
                        magnitude += Swift.abs(term)
                    }
                    XCTAssertLessThanOrEqual(Swift.abs(Double(c.pointer[i * n + j]) - exact),
                                             Double(k) * 0x1p-24 * magnitude + 0x1p-24 * Swift.abs(exact),
                                             "\(precision), k = \(k), element (\(i), \(j))")
                }
            }
        }
    }

    func testAFirstStepsEstimateCoversWhatEveryLossAndArchitectureTakes() throws {
        var worst = 0.0
        for loss in LossSpec.knownNames.filter({ $0.hasPrefix("Ra") || $0.hasPrefix("WGAN") || $0.hasPrefix("BEGAN")
                                                 || $0.hasPrefix("EBGAN") || $0.hasPrefix("DRAGAN") }) {
            let energy = loss.hasPrefix("BEGAN") || loss.hasPrefix("EBGAN")
            for arch in energy ? ["began", "mlp"] : ["dcgan", "resnet", "mlp", "cnn\nspectral_norm_d=true"] {
                let size = arch == "mlp" ? "image_size=2\nchannels=2" : "image_size=32\nchannels=1"
                let t = try GANTrainer(config: GANConfig(text: "\(size)\nngf=8\nndf=8\nz_dim=8\narch=\(arch)\nloss=\(loss)"))
                let b = 8
                BufferPool.shared.releaseCache()  // the measure counts cached buffers: start from none, as the estimate does
                let estimate = t.stepMemoryNeed(batch: b)
                _ = try t.trainStep(real: [randomTensor([b] + t.sampleShape, seed: 1)])
                let measured = t.stepMemoryNeed(batch: b)
                XCTAssertLessThanOrEqual(measured, estimate, "\(loss) \(arch)")
                worst = max(worst, Double(measured) / Double(estimate))
            }
        }
        print("first-step estimate: the largest measured share of it was \(worst)")
    }

    func testAFirstStepsEstimateGrowsWithTheBatchAsTheStepDoes() throws {
        // The spectral-normalisation paper's critic at its batch of 64: the normalised weights (2.3 million) are
        // made once per pass whatever the batch. Counted per sample they made the estimate 29.7 GB, and the step
        // was refused on a 24 GB machine (about 230 times the step). The estimate must still cover the step, and
        // stay within a small factor of it: `stepForwardFactor` times the forward pass's allocations (every
        // tensor, none reused), which are themselves about 3 times this step's peak since the pool cuts its blocks
        // from one arena (the step measures 128 MiB; the power-of-two pool, whose rounding the bound's factor 2
        // once covered, held more).
        let t = try GANTrainer(config: GANConfig(text: "image_size=32\nchannels=3\narch=cnn\nspectral_norm_d=true\nloss=RaSGAN"))
        let b = 64
        BufferPool.shared.releaseCache()
        let estimate = t.stepMemoryNeed(batch: b)
        _ = try t.trainStep(real: [randomTensor([b] + t.sampleShape, seed: 2)])
        let measured = t.stepMemoryNeed(batch: b)
        XCTAssertLessThanOrEqual(measured, estimate)
        XCTAssertLessThanOrEqual(Double(estimate), 3.0 * Double(GANTrainer.stepForwardFactor) * Double(measured),
                                 "estimate \(estimate >> 20) MiB for a step that took \(measured >> 20) MiB")
    }

    func testANeedBeyondWhatIsAvailableIsAnOutOfMemoryErrorNamingWhatAndHowMuch() {
        XCTAssertThrowsError(try MemoryBudget.require(1 << 60, for: "a test's 1 EB")) {
            let error = $0 as! SwiftGANError
            XCTAssertEqual(error.kind, .outOfMemory)
            XCTAssertTrue(error.message.hasPrefix("out of memory: a test's 1 EB needs 1048576.0 TB, "), error.message)
        }
        XCTAssertNoThrow(try MemoryBudget.require(1 << 20, for: "a megabyte"))
        XCTAssertGreaterThan(MemoryBudget.available(), 1 << 20)
    }

    func testAGANTooLargeForTheMachineIsRefusedBeforeAnythingIsAllocated() {
        let taken = BufferPool.shared.takenBytes
        XCTAssertThrowsError(try GANTrainer(config: GANConfig(text: "ngf=16384\nndf=16384\nimage_size=64"))) {
            let error = $0 as! SwiftGANError
            XCTAssertEqual(error.kind, .outOfMemory)
            XCTAssertTrue(error.message.hasPrefix("out of memory: building the networks (dcgan: "), error.message)
        }
        XCTAssertEqual(BufferPool.shared.takenBytes, taken)
    }
}
