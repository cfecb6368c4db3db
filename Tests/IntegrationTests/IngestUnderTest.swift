import Foundation
import LeadlineHTTP
import LeadlineRPC
import LeadlineTestDoubles
import LeadlineTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// leadline-ingest under socket activation with a real vault holding the Meta secrets, for tests
/// that break its storage. The Graph API is a closed port and no page token is stored, so
/// received changes wait for a token instead of keeping a retrieval loop busy.
final class IngestUnderTest: Sendable {
    static let appSecret = "storage-fault-app-secret"
    static let pageID = "153125381133"

    let stack: TestStack
    let http = HTTPClient()

    var rpc: RecordingClient { stack.client("ingest") }
    var stateDirectory: String { "\(stack.stateDir)/ingest" }

    init(vault: Bool = true) async throws {
        stack = try TestStack(
            extraConfig: """
                [meta]
                graph_base_url = "http://127.0.0.1:9"
                """)
        guard vault else { return }
        try stack.start("vault")
        let vaultClient = stack.client("vault")
        for (name, value) in [("meta/app-secret", Self.appSecret), ("meta/verify-token", "storage-fault-verify")] {
            _ = try await vaultClient.call(
                "vault.putSecret", params: ["name": .string(name), "value": .string(value), "readers": ["ingest"]])
        }
    }

    /// Starts ingest and waits until it answers (the activator listens a moment after bind()).
    func start() async throws {
        try stack.start("ingest", webhook: true)
        let rpc = self.rpc
        try await eventually(timeout: 10) { try await rpc.call("service.ping")["pong"] == true }
    }

    /// Numeric ids as Meta sends them, distinct across batches.
    static func leadgenIDs(batch: Int, count: Int) -> [String] {
        (0..<count).map { "77" + String(format: "%03d%05d", batch, $0) }
    }

    /// POSTs one signed notification with a leadgen change per id.
    func postWebhook(_ leadgenIDs: [String]) async throws -> HTTPResponse {
        let changes = leadgenIDs.map { id in
            #"{"field":"leadgen","value":{"leadgen_id":"\#(id)","page_id":"\#(Self.pageID)","form_id":"555555555555","ad_id":"666666666666","adgroup_id":"676767676767","created_time":1763900000}}"#
        }
        let body = Data(
            #"{"object":"page","entry":[{"id":"\#(Self.pageID)","time":1763900000,"changes":[\#(changes.joined(separator: ","))]}]}"#
                .utf8)
        let signature =
            "sha256="
            + GraphAPIDouble.appSecretProof(token: String(decoding: body, as: UTF8.self), appSecret: Self.appSecret)
        return try await http.send(
            HTTPRequest(
                method: "POST", url: try url("/webhooks/meta"),
                headers: [("Content-Type", "application/json"), ("X-Hub-Signature-256", signature)], body: body))
    }

    func get(_ path: String) async throws -> HTTPResponse {
        try await http.send(HTTPRequest(url: try url(path)))
    }

    private func url(_ path: String) throws -> String {
        "http://127.0.0.1:\(try stack.webhookPortReserved())\(path)"
    }

    /// ingest.submitLead's params for lead number `index`, with an idempotency key of its own.
    static func submission(_ index: Int) -> JSONValue {
        [
            "lead": [
                "source": ["platform": "api"],
                "fields": ["email": .string("person\(index)@example.com"), "fullName": "Max Muster"],
            ],
            "idempotencyKey": .string("storage-fault-\(index)"),
        ]
    }

    /// Submits lead number `index` over RPC; returns its id.
    func submitLead(_ index: Int) async throws -> String {
        let reply = try await rpc.call("ingest.submitLead", params: Self.submission(index))
        guard let id = reply["id"]?.stringValue else { throw TestStackError("submitLead answered without an id") }
        return id
    }
}

/// A daemon started by hand (binding its own socket) that is expected to stop on its own.
struct DaemonRun {
    var exitCode: Int32?
    var output: String

    /// The line DaemonMain writes when it refuses to start.
    var errorLine: String? {
        output.split(separator: "\n").last { $0.hasPrefix("leadline-") }.map(String.init)
    }

    static func byHand(_ service: String, stack: TestStack, timeout: Double = 15) throws -> DaemonRun {
        let log = "\(stack.root)/\(service)-by-hand-\(UUID().uuidString.prefix(6)).log"
        let child = try ChildProcess(
            path: "\(TestStack.binDirectory)/leadline-\(service)", arguments: [],
            environment: [
                "LEADLINE_CONFIG": stack.configPath, "CREDENTIALS_DIRECTORY": stack.credentialsDir,
                "PATH": "/usr/bin:/bin",
            ], logPath: log)
        try? child.waitForExit(timeout: timeout)
        if child.isRunning {
            child.signal(SIGKILL)
            try? child.waitForExit(timeout: 5)
        }
        return DaemonRun(exitCode: child.exitCode, output: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }
}
