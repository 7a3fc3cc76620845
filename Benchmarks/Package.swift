// swift-tools-version: 6.1
// The benchmarks live in a package of their own, so a package that depends on Interlude does
// not resolve package-benchmark (and its malloc interposer). Run them with `make bench` from
// the repository root, or here: `swift package --disable-sandbox benchmark` (see BENCHMARKS.md).
import PackageDescription

let package = Package(
    name: "InterludeBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Interlude", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/ordo-one/benchmark", "1.38.0"..<"1.39.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "InterludeBenchmarks",
            dependencies: [
                .product(name: "Interlude", package: "Interlude"),
                .product(name: "InterludeExamples", package: "Interlude"),
                .product(name: "InterludePostgres", package: "Interlude"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/InterludeBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
