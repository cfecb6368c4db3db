import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a killed test run leaves behind: its `/tmp/llt-*` folders, and the daemons it started,
/// which outlive it (systemd-socket-activate execs them; nothing signals them when the test
/// process dies). Each stack's folder names its owner process; the first stack of a test
/// process stops the daemons of folders whose owner is gone and removes those folders.
enum AbandonedStacks {
    static let ownerFile = ".owner"
    private static let prefix = "/tmp/llt-"

    /// Once per test process, before its first stack.
    static let swept: Void = sweep()

    /// This process, as `pid starttime`: a pid alone may be reused by the time anyone looks.
    static var currentOwner: String { owner(of: getpid()) ?? "\(getpid()) ?" }

    static func owner(of pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = stat.range(of: ")", options: .backwards)
        else { return nil }
        // Fields after the command name start at field 3; the start time is field 22.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return "\(pid) \(fields[19])"
    }

    static func sweep() {
        // Only mkdtemp's names ("llt-" and six characters): other llt- folders are not stacks.
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? [])
            .map { "/tmp/" + $0 }.filter { $0.hasPrefix(prefix) && $0.count == prefix.count + 6 }
        let abandoned = Set(folders.filter(isAbandoned))
        for pid in daemonProcesses() {
            guard let folder = stackFolder(of: pid) else { continue }
            if abandoned.contains(folder) || !FileManager.default.fileExists(atPath: folder) {
                kill(pid, SIGKILL)
            }
        }
        for folder in abandoned {
            unmountAll(under: folder)
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    /// A test that mounted a scratch file system in its stack and was killed left it mounted;
    /// detached first, or removing the folder would fail at the mount point.
    private static func unmountAll(under folder: String) {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return }
        let points = mounts.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count > 1 && fields[1].hasPrefix(folder + "/") ? String(fields[1]) : nil
        }
        for point in points.sorted(by: { $0.count > $1.count }) { umount2(point, Int32(MNT_DETACH)) }
    }

    /// Owned by a process that is gone. A folder without an owner file is left alone for an hour:
    /// its stack may be writing it right now.
    private static func isAbandoned(_ folder: String) -> Bool {
        guard let recorded = try? String(contentsOfFile: "\(folder)/\(ownerFile)", encoding: .utf8) else {
            let modified = (try? FileManager.default.attributesOfItem(atPath: folder))?[.modificationDate] as? Date
            return modified.map { Date().timeIntervalSince($0) > 3600 } ?? false
        }
        let text = recorded.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pid = text.split(separator: " ").first.flatMap({ pid_t($0) }) else { return false }
        return owner(of: pid) != text
    }

    /// Leadline daemons and their activators, whoever started them.
    private static func daemonProcesses() -> [pid_t] {
        let daemons: Set<String> = ["leadline-vault", "leadline-ingest", "leadline-router", "leadline-audit"]
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry), pid != getpid(),
                let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                let program = command.split(separator: 0).first
            else { return nil }
            let name = String(decoding: program, as: UTF8.self).split(separator: "/").last.map(String.init) ?? ""
            return daemons.contains(name) || name == "systemd-socket-activate" ? pid : nil
        }
    }

    /// The test stack folder a process runs for: from its LEADLINE_CONFIG, or for an activator
    /// not yet exec'd, from the socket path it listens on.
    private static func stackFolder(of pid: pid_t) -> String? {
        for source in ["/proc/\(pid)/environ", "/proc/\(pid)/cmdline"] {
            guard let data = FileManager.default.contents(atPath: source) else { continue }
            for item in data.split(separator: 0) {
                let text = String(decoding: item, as: UTF8.self)
                guard let start = text.range(of: prefix) else { continue }
                // "/tmp/llt-XXXXXX/..." -> "/tmp/llt-XXXXXX"
                let components = text[start.lowerBound...].split(separator: "/", maxSplits: 2)
                guard components.count >= 2 else { continue }
                return "/\(components[0])/\(components[1])"
            }
        }
        return nil
    }
}
