import Foundation
import LeadlineSystemd
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ListeningSocketTests {
    func path() -> String { "/tmp/llsock-\(UUID().uuidString.prefix(8)).sock" }

    @Test func bindsWithTheRequestedMode() throws {
        let socketPath = path()
        let fd = try ListeningSocket.bindUnix(path: socketPath, mode: 0o660)
        defer {
            close(fd)
            unlink(socketPath)
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: socketPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        #expect(ListenFDs.isUnixStreamSocket(fd))
        #expect(ListeningSocket.isServed(path: socketPath))
    }

    @Test func refusesAPathALiveProcessServes() throws {
        let socketPath = path()
        let fd = try ListeningSocket.bindUnix(path: socketPath)
        defer {
            close(fd)
            unlink(socketPath)
        }
        #expect {
            _ = try ListeningSocket.bindUnix(path: socketPath)
        } throws: { "\($0)".contains("already served") }
    }

    @Test func replacesAStaleSocketFile() throws {
        let socketPath = path()
        let first = try ListeningSocket.bindUnix(path: socketPath)
        close(first)  // the file stays, nobody accepts: stale
        #expect(FileManager.default.fileExists(atPath: socketPath))
        #expect(!ListeningSocket.isServed(path: socketPath))
        let second = try ListeningSocket.bindUnix(path: socketPath)
        defer {
            close(second)
            unlink(socketPath)
        }
        #expect(ListeningSocket.isServed(path: socketPath))
    }

    @Test func bindsTCPOnLoopbackAndReportsThePort() throws {
        let fd = try ListeningSocket.bindTCP("127.0.0.1:0")
        defer { close(fd) }
        let port = try #require(ListeningSocket.localPort(of: fd))
        #expect(port > 0)
        #expect(ListenFDs.isInetStreamSocket(fd))
    }

    @Test func rejectsANonNumericHost() {
        #expect(throws: ListeningSocketError.self) { _ = try ListeningSocket.bindTCP("localhost:80x") }
    }
}
