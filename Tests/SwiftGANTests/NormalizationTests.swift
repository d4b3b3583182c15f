import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

final class NormalizationTests: XCTestCase {
    func bn(_ xs: [Tensor]) -> Tensor {
        batchNorm2dTraining(xs[0], gamma: xs[1], beta: xs[2], runningMean: .zeros([3]), runningVar: .ones([3]))
    }

    func testBatchNormForwardNormalisesEachChannelAndUpdatesRunningStatistics() {
        let x = randomTensor([4, 3, 2, 2], seed: 1)
        let rm = Tensor.zeros([3]), rv = Tensor.ones([3])
        let y = batchNorm2dTraining(x, gamma: .ones([3]), beta: .zeros([3]), runningMean: rm, runningVar: rv)
        for c in 0..<3 {
            var values: [Double] = []
            for n in 0..<4 { for i in 0..<4 { values.append(Double(x.pointer[(n * 3 + c) * 4 + i])) } }
            let mean = values.reduce(0, +) / 16
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 16
            XCTAssertEqual(Double(rm.pointer[c]), 0.1 * mean, accuracy: 1e-6)
            XCTAssertEqual(Double(rv.pointer[c]), 0.9 + 0.1 * variance * 16 / 15, accuracy: 1e-6)
            for n in 0..<4 { for i in 0..<4 {
                let k = (n * 3 + c) * 4 + i
                XCTAssertEqual(Double(y.pointer[k]), (Double(x.pointer[k]) - mean) / (variance + 1e-5).squareRoot(), accuracy: 1e-5)
            } }
        }
    }

    func testBatchNormGradientsMatchFiniteDifferencesToSecondOrder() {
        let inputs = [randomTensor([3, 3, 2, 2], seed: 2), randomTensor([3], seed: 3, low: 0.5, high: 1.5), randomTensor([3], seed: 4)]
        checkFirstOrder("batchNorm", inputs, eps: 1e-3) { self.bn($0) }
        checkSecondOrder("batchNorm", inputs, eps: 1e-3, rtol: 5e-2, atol: 5e-3) { xs in square(self.bn(xs)) }
    }

    func testInstanceNormNormalisesEachSampleAndChannelToSecondOrder() {
        let x = randomTensor([2, 3, 3, 2], seed: 6)
        let y = instanceNorm2d(x)
        for plane in 0..<6 {
            let v = (0..<6).map { Double(y.pointer[plane * 6 + $0]) }
            XCTAssertEqual(v.reduce(0, +) / 6, 0, accuracy: 1e-6)
            XCTAssertEqual(v.map { $0 * $0 }.reduce(0, +) / 6, 1, accuracy: 1e-3)  // eps keeps it just below 1
        }
        checkFirstOrder("instanceNorm", [x], eps: 1e-3) { instanceNorm2d($0[0]) }
        checkSecondOrder("instanceNorm", [x], eps: 1e-3, rtol: 5e-2, atol: 5e-3) { square(instanceNorm2d($0[0])) }
    }

    func testBatchNormInferenceUsesRunningStatistics() {
        let x = randomTensor([2, 2, 1, 1], seed: 5)
        let y = batchNorm2dInference(x, gamma: Tensor([2, 3], shape: [2]), beta: Tensor([1, -1], shape: [2]),
                                     runningMean: Tensor([0.5, -0.5], shape: [2]), runningVar: Tensor([4, 9], shape: [2]))
        for n in 0..<2 {
            XCTAssertEqual(y.pointer[n * 2], (x.pointer[n * 2] - 0.5) * 2 / (4 + 1e-5).squareRoot() + 1, accuracy: 1e-6)
            XCTAssertEqual(y.pointer[n * 2 + 1], (x.pointer[n * 2 + 1] + 0.5) * 3 / (9 + 1e-5).squareRoot() - 1, accuracy: 1e-6)
        }
    }

    func testEvaluationBatchNormAndActivationFuseOffTheTapeToTheComposedResult() {
        for activation in [ReLU() as Module, LeakyReLU(0.2), Tanh()] {
            let bn = BatchNorm2d(3)
            bn.weight.assign(from: randomTensor([3], seed: 5, low: 0.5, high: 1.5).pointer)
            bn.bias.assign(from: randomTensor([3], seed: 6).pointer)
            bn.runningMean.assign(from: randomTensor([3], seed: 7).pointer)
            bn.runningVar.assign(from: randomTensor([3], seed: 8, low: 0.5, high: 2).pointer)
            bn.setTraining(false)
            let net = Sequential([bn, activation]), x = randomTensor([2, 3, 4, 5], seed: 9)
            let fused = withoutGradients { net(x) }  // one pass
            x.requiresGrad = true
            let composed = activation(bn(x))  // on the tape: the differentiable ops, layer by layer
            for i in 0..<x.count {
                let xi = Double(x.pointer[i]), c = (i / 20) % 3
                let normalized = (xi - Double(bn.runningMean.pointer[c])) / (Double(bn.runningVar.pointer[c]) + 1e-5).squareRoot()
                    * Double(bn.weight.pointer[c]) + Double(bn.bias.pointer[c])
                XCTAssertEqual(fused.pointer[i], composed.pointer[i], accuracy: 1e-6, "\(type(of: activation))")
                if activation is ReLU { XCTAssertEqual(Double(fused.pointer[i]), max(normalized, 0), accuracy: 1e-5) }
            }
        }
    }

    func testBatchNormFusedWithItsActivationMatchesTheComposedOpsAndFiniteDifferences() {
        for slope: Float in [0, 0.2] {
            let inputs = [randomTensor([3, 3, 2, 2], seed: 10), randomTensor([3], seed: 11, low: 0.5, high: 1.5),
                          randomTensor([3], seed: 12)]
            func fused(_ xs: [Tensor]) -> Tensor {
                batchNorm2dTraining(xs[0], gamma: xs[1], beta: xs[2], runningMean: .zeros([3]), runningVar: .ones([3]), slope: slope)
            }
            func composed(_ xs: [Tensor]) -> Tensor { slope == 0 ? relu(bn(xs)) : leakyRelu(bn(xs), slope: slope) }
            for t in inputs { t.requiresGrad = true }
            let seed = randomTensor([3, 3, 2, 2], seed: 13)
            let a = fused(inputs), b = composed(inputs)
            XCTAssertEqual(a.scalars, b.scalars, "forward, slope \(slope)")
            let ga = gradients(of: a, wrt: inputs, seed: seed), gb = gradients(of: b, wrt: inputs, seed: seed)
            for (x, y) in zip(ga, gb) {
                for (u, v) in zip(x.scalars, y.scalars) { XCTAssertEqual(u, v, accuracy: 1e-6, "gradient, slope \(slope)") }
            }
            checkFirstOrder("batchNorm+activation \(slope)", inputs, eps: 1e-3) { fused($0) }
            checkSecondOrder("batchNorm+activation \(slope)", inputs, eps: 1e-3, rtol: 5e-2, atol: 5e-3) { square(fused($0)) }
        }
    }
}
