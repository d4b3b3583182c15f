import XCTest
@testable import SwiftGAN
@testable import SwiftGANLosses
@testable import SwiftGANNN
@testable import SwiftGANAutodiff
@testable import SwiftGANOptimizers
@testable import SwiftGANTensor

/// The metrics' feature network: its loss, its gradient, and what its trainer refuses.
final class FeatureNetworkTests: XCTestCase {
    func testCrossEntropyIsTheMeanNegativeLogSoftmaxOfTheLabelAndItsGradientSoftmaxMinusOneHot() {
        let logits = randomTensor([4, 3], seed: 7, low: -30, high: 30)  // large logits: the shift keeps exp finite
        logits.requiresGrad = true
        let labels = [2, 0, 1, 1]
        let loss = crossEntropy(logits: logits, labels: labels)
        var expected = 0.0
        var softmax = [[Double]]()
        for i in 0..<4 {
            let row = (0..<3).map { Double(logits.pointer[i * 3 + $0]) }
            let top = row.max()!
            let total = row.map { exp($0 - top) }.reduce(0, +)
            expected += (log(total) + top - row[labels[i]]) / 4
            softmax.append(row.map { exp($0 - top) / total })
        }
        XCTAssertEqual(Double(loss.scalar), expected, accuracy: 1e-4 * max(1, abs(expected)))
        let grad = gradients(of: loss, wrt: [logits])[0]
        for i in 0..<4 {
            for j in 0..<3 {
                let want = (softmax[i][j] - (j == labels[i] ? 1 : 0)) / 4
                XCTAssertEqual(Double(grad.pointer[i * 3 + j]), want, accuracy: 1e-6, "[\(i), \(j)]")
            }
        }
    }

    func testTheTrainerRefusesBadLabelsAndShapesAndChangesNothing() throws {
        let trainer = try FeatureTrainer(config: try FeatureConfig(text: "image_size=8\nclasses=3\nwidth=2"))
        let before = trainer.network.namedState.map { $0.1.scalars }
        let images = randomTensor([4, 1, 8, 8], seed: 1)
        XCTAssertThrowsError(try trainer.trainStep(images: images, labels: [0, 1, 3, 2])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "labels must be in [0, 3), got 3")
        }
        XCTAssertThrowsError(try trainer.trainStep(images: randomTensor([4, 1, 9, 9], seed: 1), labels: [0, 1, 2, 2])) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "images must have shape [N, 1, 8, 8], got [4, 1, 9, 9]")
        }
        XCTAssertEqual(trainer.network.namedState.map { $0.1.scalars }, before)
        let (loss, accuracy) = try trainer.trainStep(images: images, labels: [0, 1, 2, 2])
        XCTAssertTrue(loss.isFinite && loss > 0 && (0...1).contains(accuracy))
        XCTAssertNotEqual(trainer.network.namedState.map { $0.1.scalars }, before)
        XCTAssertThrowsError(try FeatureConfig(text: "depth=3")) {
            XCTAssertEqual(($0 as! SwiftGANError).message, "unknown option 'depth'; known options: network, channels, image_size, classes, width, lr, seed")
        }
    }
}
