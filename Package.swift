// swift-tools-version:5.10
import PackageDescription

// The Swift core, in layers that the build enforces (each target depends only on those below it, so an import
// that points up does not compile: a circular dependency; the test command also builds with
// --explicit-target-dependency-import-check error, which refuses an import of any target not declared below):
//   SwiftGANTensor     storage, shapes, random streams, the kernels over oneDNN and OpenBLAS (forward + backward)
//   SwiftGANAutodiff   the tape: gradients(of:wrt:createGraph:)
//   SwiftGANNN         Module, layers, models, each model beside its registry entry
//   SwiftGANLosses     adversarial objectives and penalties (each penalty declares its random inputs)
//   SwiftGANOptimizers Adam, RMSprop, SGD
//   SwiftGAN           the configuration and its option table, the GAN step, metrics and feature networks
//   SwiftGANC          the C ABI (product libswiftgan.so): converts, never decides
// The shared library links the Swift standard library statically, so that loading it needs no Swift runtime from
// outside the Python package. OpenBLAS's OpenMP build (Debian's libopenblas-openmp-dev), so that its threads are the
// same GNU OpenMP team as oneDNN's and the core's loops; Debian's default libopenblas.so is the pthread build.
let openBLASOpenMP = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
// Whole-module and cross-module optimisation: the layers' small accessors (a tensor's pointer, shape) inline
// across targets as they did in one module.
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo", "-cross-module-optimization"], .when(configuration: .release))]

func core(_ name: String, _ dependencies: [Target.Dependency], path: String? = nil) -> Target {
    .target(name: name, dependencies: dependencies, path: path, swiftSettings: optimize)
}

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
            name: "SwiftGANTensor", dependencies: ["COpenBLAS", "CDNNL", "COpenMP"], swiftSettings: optimize,
            linkerSettings: [.unsafeFlags(["-L\(openBLASOpenMP)", "-Xlinker", "-rpath=\(openBLASOpenMP)"])]),
        core("SwiftGANAutodiff", ["SwiftGANTensor"]),
        core("SwiftGANNN", ["SwiftGANAutodiff"]),
        core("SwiftGANLosses", ["SwiftGANNN"]),
        core("SwiftGANOptimizers", ["SwiftGANTensor"]),
        core("SwiftGAN", ["SwiftGANLosses", "SwiftGANOptimizers"]),
        .target(
            name: "SwiftGANC", dependencies: ["SwiftGAN", "CSwiftGAN"], exclude: ["swiftgan.h"], swiftSettings: optimize,
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        // The tests reach each layer's internals (@testable import), so they name every layer.
        .testTarget(name: "SwiftGANTests", dependencies: ["SwiftGAN", "SwiftGANLosses", "SwiftGANNN", "SwiftGANAutodiff",
                                                          "SwiftGANOptimizers", "SwiftGANTensor"]),
    ]
)
