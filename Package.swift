// swift-tools-version:5.10
import PackageDescription

// The Swift core (SwiftGAN) and its C ABI (SwiftGANC, product libswiftgan.so).
// The shared library links the Swift standard library statically, so that
// loading it needs no Swift runtime from outside the Python package.
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "SwiftGAN",
    products: [
        .library(name: "swiftgan", type: .dynamic, targets: ["SwiftGANC"]),
        .library(name: "SwiftGAN", targets: ["SwiftGAN"]),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .target(name: "SwiftGAN", dependencies: ["COpenBLAS"], swiftSettings: optimize),
        .target(
            name: "SwiftGANC", dependencies: ["SwiftGAN"], exclude: ["swiftgan.h"], swiftSettings: optimize,
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        .testTarget(name: "SwiftGANTests", dependencies: ["SwiftGAN"]),
    ]
)
