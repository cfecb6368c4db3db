import Foundation
import LeadlineTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A small tmpfs mounted over a daemon's state directory for one test, so the test can fill it
/// up or turn it read-only without touching the machine's own disks.
final class ScratchMount: Sendable {
    let path: String
    let size: String

    /// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, outside a locked-down
    /// container). A loop file would need the same privilege, so there is no fallback.
    static let isPermitted: Bool = {
        var template = Array("/tmp/llt-probe-XXXXXX".utf8CString)
        guard getuid() == 0, let pointer = mkdtemp(&template) else { return false }
        let probe = String(cString: pointer)
        defer { rmdir(probe) }
        guard let mount = try? ScratchMount(at: probe, size: "64k") else { return false }
        mount.unmount()
        return true
    }()

    init(at path: String, size: String) throws {
        self.path = path
        self.size = size
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Self.run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0700", "tmpfs", path])
    }

    /// Possible only while no process holds a file here open for writing (the kernel says busy).
    func remount(readOnly: Bool) throws {
        try Self.run("/usr/bin/mount", ["-o", "remount,\(readOnly ? "ro" : "rw"),size=\(size)", path])
    }

    /// Writes zeros until the file system refuses; returns the file, whose removal frees the space.
    func fill() throws -> String {
        let ballast = "\(path)/ballast"
        let fd = open(ballast, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw TestStackError("cannot create \(ballast): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Large writes first, then page by page, so no whole page is left free.
        for chunk in [1 << 16, 1 << 12] {
            let zeros = [UInt8](repeating: 0, count: chunk)
            while zeros.withUnsafeBytes({ write(fd, $0.baseAddress, chunk) }) > 0 {}
        }
        guard errno == ENOSPC else { throw TestStackError("filling \(path): \(String(cString: strerror(errno)))") }
        return ballast
    }

    /// Detaches lazily, so a daemon that failed to stop cannot keep the mount behind.
    func unmount() {
        _ = try? Self.run("/usr/bin/umount", ["--lazy", path])
    }

    private static func run(_ tool: String, _ arguments: [String]) throws {
        let log = "/tmp/leadline-scratch-mount-\(getpid()).log"
        defer { unlink(log) }
        let child = try ChildProcess(path: tool, arguments: arguments, environment: [:], logPath: log)
        try child.waitForExit(timeout: 10)
        guard child.exitCode == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw TestStackError("\(tool) \(arguments.joined(separator: " ")): \(output)")
        }
    }
}
