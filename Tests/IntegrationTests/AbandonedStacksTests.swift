import Foundation
import Testing

@testable import LeadlineTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A killed test run's folders and daemons are cleared by the next run, and nothing of a run
/// still alive is touched.
@Suite struct AbandonedStacksTests {
    /// A folder as mkdtemp names them, owned by `owner`.
    private func folder(owner: String?) throws -> String {
        var template = Array("/tmp/llt-XXXXXX".utf8CString)
        let folder = String(cString: try #require(mkdtemp(&template)))
        if let owner {
            try owner.write(toFile: "\(folder)/\(AbandonedStacks.ownerFile)", atomically: false, encoding: .utf8)
        }
        try "[paths]\n".write(toFile: "\(folder)/leadline.toml", atomically: false, encoding: .utf8)
        return folder
    }

    /// A stand-in daemon: sleep, under a daemon's name, running for `folder`'s config.
    private func daemon(for folder: String, scratch: String) throws -> ChildProcess {
        let program = "\(scratch)/\(UUID().uuidString)/leadline-router"
        try FileManager.default.createDirectory(
            atPath: (program as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: program)
        return try ChildProcess(
            path: program, arguments: ["300"], environment: ["LEADLINE_CONFIG": "\(folder)/leadline.toml"],
            logPath: "/dev/null")
    }

    @Test func foldersAndDaemonsOfADeadRunGoThoseOfALiveOneStay() throws {
        let scratch = NSTemporaryDirectory() + "abandoned-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        // pid 1 is alive but did not start at time 0: the pid was reused, its owner is gone.
        let dead = try folder(owner: "1 0")
        let alive = try folder(owner: AbandonedStacks.currentOwner)
        let fresh = try folder(owner: nil)
        defer { for path in [dead, alive, fresh] { try? FileManager.default.removeItem(atPath: path) } }
        let orphan = try daemon(for: dead, scratch: scratch)
        let kept = try daemon(for: alive, scratch: scratch)
        defer { kept.signal(SIGKILL) }
        let vanished = try daemon(for: "/tmp/llt-gone00", scratch: scratch)
        defer {
            orphan.signal(SIGKILL)
            vanished.signal(SIGKILL)
        }

        AbandonedStacks.sweep()

        try orphan.waitForExit(timeout: 10)
        try vanished.waitForExit(timeout: 10)
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(kept.isRunning)
        #expect(FileManager.default.fileExists(atPath: alive))
        // Without an owner file a folder may be a stack being made this instant: kept.
        #expect(FileManager.default.fileExists(atPath: fresh))
    }

    @Test func theOwnerRecordIsThePidAndItsStartTime() throws {
        let owner = AbandonedStacks.currentOwner
        let fields = owner.split(separator: " ")
        #expect(fields.count == 2)
        #expect(fields.first.flatMap { pid_t($0) } == getpid())
        #expect(UInt64(fields[1]) != nil)
        #expect(AbandonedStacks.owner(of: getpid()) == owner)
    }
}
