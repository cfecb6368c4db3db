import ArgumentParser
import Foundation
import LeadlineConfig
import LeadlineHTTP
import LeadlineRPC

#if canImport(Glibc)
    import Glibc
#endif

/// Checks the installation piece by piece and says, for each problem, how to fix it.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check config, sockets, permissions, daemons and vendor hosts; explain any fix.",
        discussion: "Exit status 1 when any check fails.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Skip the checks that reach vendor hosts over the network.") var offline = false

    struct Check {
        var name: String
        var ok: Bool
        var detail: String
        var fix: String?
    }

    func run() async throws {
        var checks: [Check] = []
        let config: LeadlineConfig
        do {
            config = try global.loadConfig()
            checks.append(Check(name: "config", ok: true, detail: config.file ?? "defaults (no config file)"))
        } catch let failure as LeadctlFailure {
            checks.append(Check(name: "config", ok: false, detail: failure.message, fix: "correct the key named above"))
            return report(checks)
        }
        let connection = Connection(config: config, timeout: 10)
        var runtime = stat()
        if stat(config.paths.runtimeDir, &runtime) != 0 {
            checks.append(
                Check(
                    name: "runtime dir", ok: false, detail: "\(config.paths.runtimeDir) is missing",
                    fix: "systemd-tmpfiles --create, or start the sockets: systemctl start leadline-*.socket"))
        } else {
            checks.append(Check(name: "runtime dir", ok: true, detail: config.paths.runtimeDir))
        }
        for service in Connection.services {
            let path = config.paths.socket(service)
            var info = stat()
            guard stat(path, &info) == 0 else {
                checks.append(
                    Check(
                        name: "\(service) socket", ok: false, detail: "\(path) does not exist",
                        fix: "systemctl enable --now leadline-\(service).socket"))
                continue
            }
            let mode = info.st_mode & 0o777
            if (info.st_mode & S_IFMT) != S_IFSOCK {
                checks.append(
                    Check(
                        name: "\(service) socket", ok: false, detail: "\(path) is not a socket",
                        fix: "remove it and restart the socket unit"))
                continue
            }
            // Connecting to a Unix socket needs write permission: only the write bit opens it to others.
            if mode & 0o002 != 0 {
                checks.append(
                    Check(
                        name: "\(service) socket", ok: false,
                        detail: "\(path) is mode \(String(mode, radix: 8)): other users can connect",
                        fix: "SocketMode=0660 in leadline-\(service).socket"))
            }
            do {
                let info = try await connection.call(service, "service.info")
                checks.append(
                    Check(
                        name: "\(service) daemon", ok: true,
                        detail: "version \(Output.text(info["version"])), pid \(Output.text(info["pid"]))"))
            } catch let failure as LeadctlFailure {
                checks.append(
                    Check(
                        name: "\(service) daemon", ok: false, detail: failure.message,
                        fix: "journalctl -u leadline-\(service) -n 50 shows why it does not answer"))
            }
        }
        if !offline {
            checks.append(await reach("Graph API", config.meta.graphBaseURL))
            if let destinations = try? await connection.call("router", "router.listDestinations", [:]) {
                for destination in destinations["items"]?.arrayValue ?? [] {
                    if let base = destination["baseUrl"]?.stringValue ?? destination["options"]?["url"]?.stringValue {
                        checks.append(await reach("destination \(Output.text(destination["id"]))", base))
                    }
                }
            }
        }
        report(checks)
    }

    func reach(_ name: String, _ url: String) async -> Check {
        var configuration = HTTPClient.Configuration()
        configuration.totalTimeout = .seconds(10)
        do {
            let response = try await HTTPClient(configuration: configuration).send(
                HTTPRequest(method: "HEAD", url: url))
            return Check(name: name, ok: true, detail: "\(url) answered HTTP \(response.status)")
        } catch {
            return Check(
                name: name, ok: false, detail: "\(url): \(error)",
                fix: "check DNS, the firewall and any proxy between this host and \(url)")
        }
    }

    func report(_ checks: [Check]) {
        if global.json {
            Output.printJSON(
                .array(
                    checks.map {
                        [
                            "check": .string($0.name), "ok": .bool($0.ok), "detail": .string($0.detail),
                            "fix": $0.fix.map { .string($0) } ?? .null,
                        ]
                    }))
        } else {
            for check in checks {
                print("\(check.ok ? "ok  " : "FAIL") \(check.name): \(check.detail)")
                if let fix = check.fix, !check.ok { print("     fix: \(fix)") }
            }
        }
        if checks.contains(where: { !$0.ok }) { Foundation.exit(1) }
    }
}
