// swift-tools-version:5.10
import PackageDescription

// The Swift core (SwiftGAN) and its C ABI (SwiftGANC, product libswiftgan.so).
// The shared library links the Swift standard library statically, so that
// loading it needs no Swift runtime from outside the Python package.
// OpenBLAS's OpenMP build (Debian's libopenblas-openmp-dev), so that its threads are the same
// GNU OpenMP team as oneDNN's and the core's loops; Debian's default libopenblas.so is the pthread build.
let openBLASOpenMP = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "SwiftGAN",
    products: [
        .library(name: "swiftgan", type: .dynamic, targets: ["SwiftGANC"]),
        .library(name: "SwiftGAN", targets: ["SwiftGAN"]),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "COpenMP", path: "Sources/COpenMP"),
        // swiftgan.h, the C ABI's one source of its types and constants, imported into SwiftGANC.
        .systemLibrary(name: "CSwiftGAN", path: "Sources/CSwiftGAN"),
        .target(
            name: "SwiftGAN", dependencies: ["COpenBLAS", "CDNNL", "COpenMP"], swiftSettings: optimize,
            linkerSettings: [.unsafeFlags(["-L\(openBLASOpenMP)", "-Xlinker", "-rpath=\(openBLASOpenMP)"])]),
        .target(
            name: "SwiftGANC", dependencies: ["SwiftGAN", "CSwiftGAN"], exclude: ["swiftgan.h"], swiftSettings: optimize,
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        .testTarget(name: "SwiftGANTests", dependencies: ["SwiftGAN"]),
    ]
)
