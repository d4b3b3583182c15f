import XCTest
@testable import SwiftGAN
@testable import SwiftGANNN
@testable import SwiftGANTensor

/// The forward-only kernels of FID's Inception-v3, against values worked out by hand as torch defines them, and
/// the network's shape and names (its parity with pytorch-fid is python/tests/test_inception.py).
final class PoolingTests: XCTestCase {
    // A 3×4 plane: 0, 1, 2, ..., 11 row by row.
    let plane: [Float] = (0..<12).map(Float.init)

    func testMaxPoolSkipsPaddedCellsAndMovesByItsStride() {
        var y = [Float](repeating: .nan, count: 6)
        maxPool2dForward(&y, plane, planes: 1, height: 3, width: 4, kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual(pooledSize(3, kernel: 3, stride: 2, padding: 1), 2)
        // windows at rows {-1, 0, 1} and {1, 2, 3}, columns {-1, 0, 1} and {1, 2, 3}: their largest real cells
        XCTAssertEqual(Array(y.prefix(4)), [5, 7, 9, 11])
        var negative = plane.map { -$0 - 1 }
        maxPool2dForward(&y, negative, planes: 1, height: 3, width: 4, kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual(Array(y.prefix(4)), [-1, -2, -5, -6], "a padded zero never wins over negative cells")
        negative[2] = .nan  // row 0, column 2: in the windows of output (0, 1) only, before larger cells
        maxPool2dForward(&y, negative, planes: 1, height: 3, width: 4, kernel: 3, stride: 2, padding: 1)
        XCTAssertTrue(y[1].isNaN, "NaN wins the window it is in, and stays, as in torch")
        XCTAssertEqual([y[0], y[2], y[3]], [-1, -5, -6])
    }

    func testAveragePoolLeavesThePaddingOutOfTheMean() {
        var y = [Float](repeating: .nan, count: 12)
        averagePool3x3Forward(&y, plane, planes: 1, height: 3, width: 4)
        XCTAssertEqual(y[0], (0 + 1 + 4 + 5) / 4)  // a corner: 4 real cells, not 9
        XCTAssertEqual(y[1], (0 + 1 + 2 + 4 + 5 + 6) / 6)
        XCTAssertEqual(y[5], (0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9)
    }

    func testZeroPaddingOfRowsAndColumnsApart() {
        var y = [Float](repeating: .nan, count: 3 * 8)
        zeroPadForward(&y, plane, planes: 1, height: 3, width: 4, top: 0, left: 2)
        XCTAssertEqual(Array(y[0..<8]), [0, 0, 0, 1, 2, 3, 0, 0])
        XCTAssertEqual(Array(y[16..<24]), [0, 0, 8, 9, 10, 11, 0, 0])
    }

    func testBilinearResizeAsTorchWithoutAlignedCorners() {
        // 1×2 → 1×4: sources (o + ½)·½ − ½ = −¼ (clamped to 0), ¼, ¾, 1¼ (the last cell twice)
        var y = [Float](repeating: .nan, count: 4)
        bilinearResizeForward(&y, [10, 20], planes: 1, height: 1, width: 2, outHeight: 1, outWidth: 4)
        XCTAssertEqual(y, [10, 12.5, 17.5, 20])
        var same = [Float](repeating: .nan, count: 12)
        bilinearResizeForward(&same, plane, planes: 1, height: 3, width: 4, outHeight: 3, outWidth: 4)
        XCTAssertEqual(same, plane, "the same size is the identity")
        var shrunk = [Float](repeating: .nan, count: 2)
        bilinearResizeForward(&shrunk, [0, 1, 2, 3], planes: 1, height: 1, width: 4, outHeight: 1, outWidth: 2)
        XCTAssertEqual(shrunk, [0.5, 2.5], "no antialiasing: two taps, as torch's antialias=False")
    }

    func testInceptionGives2048FeaturesOfAnySizeUnderPytorchFidNames() throws {
        let features = try InceptionFeatures(config: try FeatureConfig(text: "network=inception-v3"))
        let names = features.namedState.map(\.0)
        XCTAssertEqual(names.count, 470)
        XCTAssertEqual(names.first, "Conv2d_1a_3x3.conv.weight")
        XCTAssertEqual(names.last, "Mixed_7c.branch_pool.bn.running_var")
        XCTAssertTrue(names.contains("Mixed_6b.branch7x7_2.conv.weight"))
        XCTAssertEqual(features.namedState.first { $0.0 == "Mixed_6b.branch7x7_2.conv.weight" }?.1.shape, [128, 128, 1, 7])
        var out = [Float](repeating: .nan, count: 2 * 2048)
        try out.withUnsafeMutableBufferPointer { buffer in
            try features.evaluate(Tensor(repeating: 0.5, shape: [2, 1, 20, 30]), logits: false, into: buffer)
        }
        XCTAssertEqual(out, [Float](repeating: 0, count: 2 * 2048), "zero weights, zero shifts: zero features")
        XCTAssertThrowsError(try features.trainStep(images: Tensor(repeating: 0, shape: [2, 3, 8, 8]), labels: [0, 1]))
    }
}
