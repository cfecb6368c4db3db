import Foundation
import LeadlineRPC
import LeadlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Authorization from SO_PEERCRED: real processes running as other Unix users.
@Suite struct VaultAuthorizationTests {
    static let serviceUser = "leadline-test-other"

    /// root is the admin and runs vault, router and audit; `leadline-test-other` runs ingest;
    /// `nobody` has no role at all.
    @Test func callersAreAuthorizedByTheirUnixUser() async throws {
        try ensureUser(Self.serviceUser)
        let stack = try TestStack(
            access: """
                [access]
                admins = ["root"]

                [access.services]
                vault = "root"
                ingest = "\(Self.serviceUser)"
                router = "root"
                audit = "root"
                """)
        try stack.start("vault")
        let admin = stack.client("vault")
        let forIngest = Canary.value()
        let forRouter = Canary.value()
        _ = try await admin.call(
            "vault.putSecret", params: ["name": "meta/page/1", "value": .string(forIngest), "readers": ["ingest"]])
        _ = try await admin.call(
            "vault.putSecret", params: ["name": "hubspot/main", "value": .string(forRouter), "readers": ["router"]])
        try openSocket(of: stack, service: "vault")

        // The ingest service reads and refreshes its own secret...
        let own = try callAs(Self.serviceUser, stack, "vault.getSecret", ["name": "meta/page/1"])
        #expect(Canary.digest(own["result"]?["value"]?.stringValue) == Canary.digest(forIngest))
        let refresh = try callAs(
            Self.serviceUser, stack, "vault.updateSecret",
            ["name": "meta/page/1", "value": .string(Canary.value()), "expectedVersion": 1])
        #expect(refresh["result"]?["version"] == 2)
        #expect(try callAs(Self.serviceUser, stack, "vault.getSecret", ["name": "no/such"])["error"]?["code"] == -32001)
        // ...but not the router's, and none of the admin methods.
        let denied: [(String, JSONValue)] = [
            ("vault.getSecret", ["name": "hubspot/main"]),
            ("vault.updateSecret", ["name": "hubspot/main", "value": "x", "expectedVersion": 1]),
            ("vault.putSecret", ["name": "meta/page/1", "value": "x", "readers": ["ingest"]]),
            ("vault.listSecrets", [:]),
            ("vault.deleteSecret", ["name": "meta/page/1"]),
            ("vault.rotateKey", [:]),
            ("vault.status", [:]),
        ]
        for (method, params) in denied {
            let reply = try callAs(Self.serviceUser, stack, method, params)
            #expect(reply["error"]?["code"] == -32002, "\(method)")
            #expect(reply["error"]?["data"]?["name"] == "PermissionDenied", "\(method)")
        }
        // A user with no role learns nothing, not even whether a secret exists.
        for name in ["meta/page/1", "no/such"] {
            let reply = try callAs("nobody", stack, "vault.getSecret", ["name": .string(name)])
            #expect(reply["error"]?["data"]?["name"] == "PermissionDenied")
        }
        // The admin is not a reader: admins manage secrets, services read them.
        #expect(await admin.expectError("vault.getSecret", params: ["name": "meta/page/1"])?.name == "PermissionDenied")

        // Every refusal is in the audit trail with the caller (a service by its name, others by uid), and no reply ever held the router's value.
        try stack.start("audit")
        let audit = stack.client("audit")
        let other = try #require(UserAccount.lookup(name: Self.serviceUser))
        // The admin's refused read was the last access: once it is in, everything before it is.
        try await eventually(timeout: 20) {
            let page = try await audit.call(
                "audit.query", params: ["action": "vault.getSecret", "subject": "meta/page/1", "limit": 1000])
            return (page["items"]?.arrayValue ?? []).contains {
                $0["outcome"] == "denied" && $0["details"]?["uid"] == 0
            }
        }
        let refusedService = try await audit.call("audit.query", params: ["subject": "hubspot/main", "limit": 1000])
        #expect(
            (refusedService["items"]?.arrayValue ?? []).contains {
                $0["outcome"] == "denied" && $0["details"]?["caller"] == "ingest"
                    && $0["details"]?["uid"] == .int(Int64(other.uid))
            })
        let all = try await audit.call("audit.query", params: ["action": "vault.*", "limit": 1000])
        let text = String(decoding: try JSONCoding.encode(all), as: UTF8.self)
        #expect(!text.contains(forIngest) && !text.contains(forRouter))
        let deniedNobody = (all["items"]?.arrayValue ?? []).filter {
            $0["outcome"] == "denied" && $0["details"]?["caller"] == "uid:65534(nobody)"
        }
        #expect(deniedNobody.count == 2)
        stack.removeFiles()
    }

    /// Lets other users reach the socket (mkdtemp made the folders private to root).
    private func openSocket(of stack: TestStack, service: String) throws {
        chmod(stack.root, 0o711)
        chmod(stack.runtimeDir, 0o711)
        chmod(stack.socketPath(service), 0o666)
    }

    private func ensureUser(_ name: String) throws {
        if UserAccount.lookup(name: name) != nil { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/useradd")
        process.arguments = ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
        try process.run()
        process.waitUntilExit()
        guard UserAccount.lookup(name: name) != nil else { throw TestStackError("cannot create user \(name)") }
    }

    /// One JSON-RPC call from a child process running as `user` (real uid and gid, no groups),
    /// recorded in the traffic log like every other call.
    private func callAs(_ user: String, _ stack: TestStack, _ method: String, _ params: JSONValue) throws -> JSONValue {
        guard let account = UserAccount.lookup(name: user) else { throw TestStackError("no user \(user)") }
        let request: JSONValue = ["jsonrpc": "2.0", "id": 1, "method": .string(method), "params": params]
        let line = String(decoding: try JSONCoding.encode(request), as: UTF8.self)
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            s.sendall(sys.argv[2].encode() + b"\\n")
            data = b""
            while not data.endswith(b"\\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            sys.stdout.write(data.decode())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = [
            "--reuid=\(account.uid)", "--regid=\(account.gid)", "--clear-groups", "/usr/bin/python3", "-c", script,
            stack.socketPath("vault"), line,
        ]
        process.environment = ["PATH": "/usr/bin:/bin"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let reply = try JSONCoding.parse(Array(data))
        TrafficLog.shared.record(service: "vault", request: request, response: reply)
        return reply
    }
}
