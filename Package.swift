// swift-tools-version:6.1
// Leadline: four systemd-activated daemons and an admin CLI, sharing one runtime.
import Foundation
import PackageDescription

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let crypto: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
let grdb: Target.Dependency = .product(name: "GRDB", package: "GRDB.swift")
let lifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "Leadline",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "leadline-vault", targets: ["leadline-vault"]),
        .executable(name: "leadline-ingest", targets: ["leadline-ingest"]),
        .executable(name: "leadline-router", targets: ["leadline-router"]),
        .executable(name: "leadline-audit", targets: ["leadline-audit"]),
        .executable(name: "leadctl", targets: ["leadctl"]),
        .executable(name: "leadline-doubles", targets: ["leadline-doubles"]),
        .executable(name: "leadline-chaos", targets: ["leadline-chaos"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C libraries, linked from the system through pkg-config.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // Headers only: libcurl itself is opened on first use (see Sources/CCurl/shim.h).
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // Build-time embedding of Schemas/ so rpc.discover needs no files at run time.
        .executableTarget(name: "embed-schemas", path: "Sources/embed-schemas"),
        .plugin(
            name: "EmbedSchemasPlugin", capability: .buildTool(), dependencies: ["embed-schemas"],
            path: "Sources/EmbedSchemasPlugin"),
        .target(name: "LeadlineSchemas", plugins: ["EmbedSchemasPlugin"]),

        // The shared runtime.
        .target(name: "LeadlineRPC", dependencies: nio + [logging]),
        .target(name: "LeadlineSystemd", dependencies: ["CSystemd", "LeadlineRPC", logging] + nio),
        .target(
            name: "LeadlineStorage",
            dependencies: [grdb, .product(name: "GRDBSQLite", package: "GRDB.swift"), logging] + nio),
        .target(name: "LeadlineHTTP", dependencies: ["CCurl", logging] + nio),
        .target(name: "LeadlineConfig", dependencies: ["LeadlineRPC", .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(
            name: "LeadlineRuntime",
            dependencies: [
                "LeadlineRPC", "LeadlineSystemd", "LeadlineStorage", "LeadlineConfig", "LeadlineSchemas",
                logging, lifecycle, crypto,
            ] + nio),

        // Daemon cores and their thin executables.
        .target(name: "VaultCore", dependencies: ["LeadlineRuntime", crypto]),
        .target(
            name: "AuditCore",
            dependencies: ["LeadlineRuntime", crypto, .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        .target(
            name: "IngestCore",
            dependencies: ["LeadlineRuntime", "LeadlineHTTP", crypto, .product(name: "NIOHTTP1", package: "swift-nio")]),
        .target(
            name: "RouterCore",
            dependencies: ["LeadlineRuntime", "LeadlineHTTP", "LeadlineStorage", grdb, crypto, lifecycle, logging] + nio
        ),
        .executableTarget(name: "leadline-vault", dependencies: ["VaultCore"]),
        .executableTarget(name: "leadline-audit", dependencies: ["AuditCore"]),
        .executableTarget(name: "leadline-ingest", dependencies: ["IngestCore"]),
        .executableTarget(name: "leadline-router", dependencies: ["RouterCore"]),

        // Admin CLI.
        .target(
            name: "LeadctlCore",
            dependencies: ["LeadlineRPC", "LeadlineConfig", "LeadlineHTTP", argumentParser, crypto]),
        .executableTarget(name: "leadctl", dependencies: ["LeadctlCore"]),

        // Vendor test doubles (Graph API, HubSpot, Salesforce, Pipedrive) for tests and `make run`.
        .target(
            name: "LeadlineTestDoubles",
            dependencies: nio + [.product(name: "NIOHTTP1", package: "swift-nio"), crypto]),
        .executableTarget(name: "leadline-doubles", dependencies: ["LeadlineTestDoubles"]),

        // Benchmarks: the Swift load generator and the C baseline it is compared with.
        .executableTarget(
            name: "leadline-bench",
            dependencies: [
                "LeadlineRPC", "LeadlineRuntime", "LeadlineStorage", "LeadlineTestSupport", "LeadlineTestDoubles",
                argumentParser,
                crypto,
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ] + nio),
        .executableTarget(name: "rpc-baseline-c", path: "Sources/rpc-baseline-c"),
        // What swift-nio alone costs per ping: the RPC rows' second baseline.
        .executableTarget(name: "rpc-baseline-nio", dependencies: nio),
        // The webhook benchmark's floor: HTTP, HMAC and SQLite group commit, nothing of Leadline's.
        .executableTarget(
            name: "webhook-baseline-nio",
            dependencies: nio + [
                .product(name: "NIOHTTP1", package: "swift-nio"), crypto,
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]),
        // The memory floor a daemon's idle RSS is compared with: the same libraries, doing nothing.
        .executableTarget(name: "idle-baseline-swift", dependencies: nio + [grdb]),

        // Starts real daemons under socket activation for the tests and the benchmark.
        .target(name: "LeadlineTestSupport", dependencies: ["LeadlineRPC", "LeadlineConfig", "LeadlineSystemd"]),

        // The crash test (`make test-chaos`): webhooks in while random daemons are SIGKILLed.
        .target(
            name: "ChaosCore",
            dependencies: ["LeadlineRPC", "LeadlineHTTP", "LeadlineTestSupport", "LeadlineTestDoubles"] + nio),
        .executableTarget(name: "leadline-chaos", dependencies: ["ChaosCore", "LeadlineTestSupport", argumentParser]),
        .testTarget(
            name: "LeadlineRPCTests",
            dependencies: [
                "LeadlineRPC", "LeadlineTestSupport", "LeadlineTestDoubles",
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]),
        .testTarget(
            name: "LeadlineRuntimeTests",
            dependencies: [
                "LeadlineRuntime", "LeadlineStorage", "LeadlineHTTP", "LeadlineConfig", "LeadlineSystemd",
                "LeadlineTestDoubles", "LeadlineTestSupport",
            ]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["LeadlineRPC", "LeadlineHTTP", "LeadlineTestSupport", "LeadlineTestDoubles"]),
        .testTarget(name: "VaultTests", dependencies: ["VaultCore", "LeadlineTestSupport"]),
        .testTarget(name: "AuditTests", dependencies: ["AuditCore", "LeadlineTestSupport"]),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "IngestCore", "LeadlineRPC", "LeadlineHTTP", "LeadlineTestDoubles", "LeadlineTestSupport", grdb,
            ]),
        .testTarget(
            name: "RouterTests",
            dependencies: [
                "RouterCore", "LeadlineTestDoubles", "LeadlineTestSupport", "LeadlineSystemd", grdb, logging,
            ] + nio),
    ],
    swiftLanguageModes: [.v6]
)

// `make fuzz` (LEADLINE_FUZZ=1, its own scratch path): a libFuzzer binary, and coverage plus
// AddressSanitizer on the modules that parse untrusted input. Never part of a normal build.
if ProcessInfo.processInfo.environment["LEADLINE_FUZZ"] == "1" {
    let sanitize: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
    let fuzzed = ["LeadlineRPC", "LeadlineConfig", "LeadlineRuntime", "IngestCore"]
    for target in package.targets where fuzzed.contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + sanitize
    }
    package.targets.append(
        .executableTarget(
            name: "leadline-fuzz",
            dependencies: [
                "LeadlineRPC", "LeadlineConfig", "LeadlineRuntime", "IngestCore",
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-parse-as-library"])],
            // SwiftPM supplies its own main, which hands over to libFuzzer's driver: link the
            // fuzzer runtime without its main.
            linkerSettings: [
                .unsafeFlags([
                    "-sanitize=address", "-Xlinker",
                    "/opt/swift/usr/lib/swift/clang/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a",
                    "-lstdc++",
                ])
            ]))
}
