import CSwiftGAN
import SwiftGAN

// The sample-quality metrics' part of the C ABI (swiftgan.h, "Sample-quality metrics"): functions of their
// arguments alone (no handle), double precision, the same statuses and messages as the rest.

/// The caller's `[count, width]` doubles as a feature set (named `name` in messages); its shape checked by the core
/// before they are read.
private func featureSet(_ values: UnsafePointer<Double>?, _ count: Int64, _ width: Int64,
                        _ name: String) throws(SwiftGANError) -> FeatureSet {
    try require(values != nil, "\(name) is NULL")
    try FeatureSet.checkShape(count: Int(count), width: Int(width), name: name)
    try MemoryBudget.require(Int(count * width) * MemoryLayout<Double>.size, for: "a copy of \(name) [\(count), \(width)]")
    return try FeatureSet(Array(UnsafeBufferPointer(start: values, count: Int(count * width))), count: Int(count),
                          width: Int(width), name: name)
}

/// The caller's `count` doubles (a mean or a covariance).
private func doubles(_ p: UnsafePointer<Double>?, _ count: Int64, _ name: String) throws(SwiftGANError) -> [Double] {
    try require(p != nil, "\(name) is NULL")
    try require(count >= 0 && count <= 1 << 30, "\(name): count must be in [0, 2^30], got \(count)")
    return Array(UnsafeBufferPointer(start: p, count: Int(count)))
}

@_cdecl("sg_metrics_statistics")
public func sg_metrics_statistics(_ features: UnsafePointer<Double>?, _ count: Int64, _ width: Int64,
                                  _ mean: UnsafeMutablePointer<Double>?, _ covariance: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        let set = try featureSet(features, count, width, "features")
        try require(mean != nil && covariance != nil, "mean and covariance must not be NULL")
        try SampleQuality.requireStatistics(of: set)
        let (m, c) = set.statistics()
        mean!.update(from: m, count: m.count)
        covariance!.update(from: c, count: c.count)
    }
}

@_cdecl("sg_metrics_frechet")
public func sg_metrics_frechet(_ mean1: UnsafePointer<Double>?, _ mean1Count: Int64, _ covariance1: UnsafePointer<Double>?,
                               _ covariance1Count: Int64, _ mean2: UnsafePointer<Double>?, _ mean2Count: Int64,
                               _ covariance2: UnsafePointer<Double>?, _ covariance2Count: Int64, _ epsilon: Double,
                               _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        try require(out != nil, "out is NULL")
        out!.pointee = try SampleQuality.frechetDistance(
            mean1: try doubles(mean1, mean1Count, "mean1"), covariance1: try doubles(covariance1, covariance1Count, "covariance1"),
            mean2: try doubles(mean2, mean2Count, "mean2"), covariance2: try doubles(covariance2, covariance2Count, "covariance2"),
            epsilon: epsilon)
    }
}

@_cdecl("sg_metrics_fid")
public func sg_metrics_fid(_ real: UnsafePointer<Double>?, _ realCount: Int64, _ realWidth: Int64,
                           _ fake: UnsafePointer<Double>?, _ fakeCount: Int64, _ fakeWidth: Int64,
                           _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        try require(out != nil, "out is NULL")
        out!.pointee = try SampleQuality.fid(real: try featureSet(real, realCount, realWidth, "real_features"),
                                             fake: try featureSet(fake, fakeCount, fakeWidth, "fake_features"))
    }
}

@_cdecl("sg_metrics_kernel_distances")
public func sg_metrics_kernel_distances(_ real: UnsafePointer<Double>?, _ realCount: Int64, _ realWidth: Int64,
                                        _ fake: UnsafePointer<Double>?, _ fakeCount: Int64, _ fakeWidth: Int64,
                                        _ realIndex: UnsafePointer<Int64>?, _ fakeIndex: UnsafePointer<Int64>?,
                                        _ subsets: Int64, _ subsetSize: Int64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        let x = try featureSet(real, realCount, realWidth, "real_features")
        let y = try featureSet(fake, fakeCount, fakeWidth, "fake_features")
        try require(subsets >= 1 && subsets <= 1 << 20, "subsets must be in [1, 2^20], got \(subsets)")
        try require(subsetSize >= 2 && subsetSize <= min(realCount, fakeCount),
                    "subset_size must be in [2, \(min(realCount, fakeCount))], got \(subsetSize)")
        try require(realIndex != nil && fakeIndex != nil && out != nil, "real_index, fake_index and out must not be NULL")
        let m = Int(subsetSize)
        let split = { (p: UnsafePointer<Int64>) in (0..<Int(subsets)).map { s in (0..<m).map { Int(p[s * m + $0]) } } }
        let values = try SampleQuality.kernelDistances(real: x, fake: y, realIndices: split(realIndex!),
                                                       fakeIndices: split(fakeIndex!))
        out!.update(from: values, count: values.count)
    }
}

@_cdecl("sg_metrics_precision_recall")
public func sg_metrics_precision_recall(_ real: UnsafePointer<Double>?, _ realCount: Int64, _ realWidth: Int64,
                                        _ fake: UnsafePointer<Double>?, _ fakeCount: Int64, _ fakeWidth: Int64, _ k: Int32,
                                        _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(SwiftGANError) in
        try require(out != nil, "out is NULL")
        let (precision, recall) = try SampleQuality.precisionRecall(
            real: try featureSet(real, realCount, realWidth, "real_features"),
            fake: try featureSet(fake, fakeCount, fakeWidth, "fake_features"), k: Int(k))
        (out![0], out![1]) = (precision, recall)
    }
}
