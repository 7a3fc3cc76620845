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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
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
        .testTarget(name: "InterludeTests", dependencies: ["Interlude", "InterludeExamples"]),
        .testTarget(name: "InterludePostgresTests", dependencies: ["Interlude", "InterludePostgres"]),
        .testTarget(name: "InterludeKafkaTests", dependencies: ["InterludeKafka"]),
        .testTarget(
            name: "ConformanceTests",
            dependencies: ["Interlude", "InterludePostgres", "InterludeExamples"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
