// idle-baseline-swift DIR: the least a Leadline daemon can be on the stack it is built on, as
// the baseline of the benchmark's idle-RSS rows. Foundation, one GRDB pool over a SQLite file
// in WAL mode, a swift-nio server on a Unix socket; then nothing until SIGTERM. Whatever a
// daemon's idle RSS is above this, its own code and data cost; below this, no daemon on these
// libraries can go.
import Foundation
import GRDB
import NIOCore
import NIOPosix

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: idle-baseline-swift DIR\n".utf8))
    exit(2)
}
let directory = CommandLine.arguments[1]
let pool = try DatabasePool(path: directory + "/idle.sqlite")
try pool.write { db in try db.execute(sql: "CREATE TABLE IF NOT EXISTS idle(x)") }
let socketPath = directory + "/idle.sock"
try? FileManager.default.removeItem(atPath: socketPath)
let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
    .bind(unixDomainSocketPath: socketPath).wait()
FileHandle.standardOutput.write(Data("ready\n".utf8))
try server.closeFuture.wait()
