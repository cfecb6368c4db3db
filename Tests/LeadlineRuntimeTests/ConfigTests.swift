import Foundation
import Testing

@testable import LeadlineConfig

@Suite struct ConfigTests {
    @Test func everyKeyHasADefault() throws {
        let config = try LeadlineConfig.parse("", file: "empty.toml")
        #expect(config.paths.runtimeDir == "/run/leadline")
        #expect(config.paths.socket("vault") == "/run/leadline/vault.sock")
        #expect(config.access.admins == ["root"])
        #expect(config.access.services["router"] == "leadline-router")
        #expect(config.rpc.maxLineBytes == 1_048_576)
        #expect(config.meta.graphVersion == "v25.0")
        #expect(config.ingest.webhookListen == "127.0.0.1:8470")
        #expect(config.retention.auditDays == 730)
    }

    @Test func readsEverySection() throws {
        let config = try LeadlineConfig.parse(
            """
            [paths]
            runtime_dir = "/tmp/run"
            [access]
            admins = ["alice", "@wheel"]
            [access.services]
            vault = "svc"
            [rpc]
            max_line_bytes = 4096
            [meta]
            graph_base_url = "http://127.0.0.1:9000"
            [ingest]
            forms = ["123", "456"]
            [retention]
            lead_days = 7
            """)
        #expect(config.paths.runtimeDir == "/tmp/run")
        #expect(config.access.admins == ["alice", "@wheel"])
        #expect(config.access.services["vault"] == "svc")
        #expect(config.access.services["ingest"] == "leadline-ingest")
        #expect(config.rpcLimits.maxLineBytes == 4096)
        #expect(config.meta.graphBaseURL == "http://127.0.0.1:9000")
        #expect(config.ingest.forms == ["123", "456"])
        #expect(config.retention.leadDays == 7)
    }

    @Test(arguments: [
        ("[ingest]\nmax_body_bytez = 5", "key 'ingest.max_body_bytez': unknown key"),
        ("[mystery]\nx = 1", "key 'mystery': unknown key"),
        ("[access.services]\nmailer = \"x\"", "key 'access.services.mailer': unknown key"),
        ("[rpc]\nmax_line_bytes = \"big\"", "key 'rpc.max_line_bytes': expected an integer, found string"),
        ("[rpc]\nmax_line_bytes = 10", "key 'rpc.max_line_bytes': 10 is out of range"),
        ("[paths]\nstate_dir = \"relative\"", "key 'paths.state_dir': must be an absolute path"),
        ("[meta]\ngraph_base_url = \"ftp://x\"", "key 'meta.graph_base_url': must be an http:// or https:// URL"),
        ("[log]\nlevel = \"loud\"", "key 'log.level': must be one of"),
        ("[access]\nadmins = [\"a\", 3]", "key 'access.admins[1]': expected a string, found integer"),
        ("paths = 3", "key 'paths': expected a table, found integer"),
    ])
    func badInputNamesFileKeyAndReason(text: String, expected: String) throws {
        #expect {
            _ = try LeadlineConfig.parse(text, file: "/etc/leadline/leadline.toml")
        } throws: { error in
            let message = "\(error)"
            return message.hasPrefix("/etc/leadline/leadline.toml: ") && message.contains(expected)
        }
    }

    @Test func syntaxErrorsNameTheLine() throws {
        #expect {
            _ = try LeadlineConfig.parse("[paths]\nruntime_dir = \"/run\"\nstate_dir = = 3\n", file: "x.toml")
        } throws: { "\($0)".contains("x.toml: TOML syntax error at line 3") }
    }

    /// Headers that crash toml++ instead of failing to parse (found by make fuzz) are refused
    /// first; arrays and strings whose lines start with "[" are not headers.
    @Test(arguments: [("[\nlog]", 1), ("[#]", 1), ("[paths]\n[ ]", 2), ("x = 1\n[[#]]", 2)])
    func malformedTableHeadersAreSyntaxErrors(text: String, line: Int) throws {
        #expect {
            _ = try LeadlineConfig.parse(text, file: "x.toml")
        } throws: { "\($0)" == "x.toml: TOML syntax error at line \(line): a table header must start with a key" }
    }

    @Test func linesStartingWithABracketInsideValuesAreNotHeaders() throws {
        let quotes = String(repeating: "\"", count: 3)
        let text = [
            "[access]", "admins = [", #"  "root", # [not a header]"#, #"  "@wheel","#, "]", "[meta]",
            "app_id = \(quotes)", "[#] inside a multi-line string\(quotes)",
        ].joined(separator: "\n")
        _ = try LeadlineConfig.parse(text, file: "x.toml")
        #expect(TableHeaderCheck.firstBadHeader(in: text) == nil)
        #expect(TableHeaderCheck.firstBadHeader(in: "x = [\n[1, 2],\n[#]\n]") == nil)
    }

    @Test func environmentOverridesPaths() throws {
        let file = NSTemporaryDirectory() + "leadline-config-\(UUID().uuidString).toml"
        try "[paths]\nruntime_dir = \"/run/a\"\n".write(toFile: file, atomically: true, encoding: .utf8)
        let config = try LeadlineConfig.load(environment: [
            "LEADLINE_CONFIG": file, "LEADLINE_STATE_DIR": "/tmp/state", "CREDENTIALS_DIRECTORY": "/run/credentials/x",
        ])
        #expect(config.paths.runtimeDir == "/run/a")
        #expect(config.paths.stateDir == "/tmp/state")
        #expect(config.credentialsDirectory == "/run/credentials/x")
    }

    @Test func anExplicitConfigThatIsMissingIsAnError() {
        #expect(throws: ConfigError.self) {
            _ = try LeadlineConfig.load(environment: ["LEADLINE_CONFIG": "/nonexistent/leadline.toml"])
        }
    }

    @Test func theSampleConfigInSystemdParses() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("systemd/leadline.toml").path
        let config = try LeadlineConfig.load(file: sample)
        #expect(config.file == sample)
    }
}
