// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Interlude",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Interlude", targets: ["Interlude"]),
        .library(name: "InterludePostgres", targets: ["InterludePostgres"]),
        .library(name: "InterludeKafka", targets: ["InterludeKafka"]),
        .library(name: "InterludeExamples", targets: ["InterludeExamples"]),
        .library(name: "InterludeWorker", targets: ["InterludeWorker"]),
        .executable(name: "interlude", targets: ["interlude"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"4.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .target(name: "Interlude"),
        .target(
            name: "InterludePostgres",
            dependencies: [
                "Interlude", "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "InterludeKafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "InterludeExamples", dependencies: ["Interlude"]),
        .target(
            name: "InterludeWorker",
            dependencies: [
                "Interlude", "InterludePostgres", "InterludeKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "InterludeConsole",
            dependencies: [
                "Interlude", "InterludeWorker", "InterludePostgres", "InterludeKafka",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "interlude",
            dependencies: [
                "Interlude", "InterludeExamples", "InterludeWorker", "InterludePostgres", "InterludeKafka", "InterludeConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "InterludeTests", dependencies: ["Interlude", "InterludeExamples"]),
        .testTarget(name: "InterludePostgresTests", dependencies: ["Interlude", "InterludePostgres"]),
        .testTarget(name: "InterludeKafkaTests", dependencies: ["InterludeKafka"]),
        .target(
            name: "InterludeTestSupport",
            dependencies: ["Interlude", "InterludeKafka", .product(name: "Logging", package: "swift-log")],
            path: "Tests/InterludeTestSupport"
        ),
        .testTarget(
            name: "InterludeWorkerTests",
            dependencies: [
                "InterludeWorker", "InterludePostgres", "InterludeExamples", "InterludeTestSupport",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "InterludeWorker", "InterludePostgres", "InterludeKafka", "InterludeExamples", "InterludeTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "ConsoleTests",
            dependencies: [
                "Interlude", "InterludeConsole", "InterludeWorker", "InterludePostgres", "InterludeKafka", "InterludeExamples",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["console_browser.py"]
        ),
        .testTarget(
            name: "ConformanceTests",
            dependencies: ["Interlude", "InterludePostgres", "InterludeExamples"]
        ),
        // Runs the built `interlude` executable in a real pseudo-terminal (tmux) and sends it
        // signals (InterludeWorker for its ChildProcess).
        .testTarget(name: "TerminalTests", dependencies: ["InterludeWorker", "interlude"]),
    ],
    swiftLanguageModes: [.v6]
)
