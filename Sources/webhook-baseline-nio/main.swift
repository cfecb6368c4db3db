// webhook-baseline-nio PORT DATABASE APP_SECRET: the webhook benchmark's floor. The least an
// endpoint must do before Meta may get its 200, on the libraries leadline-ingest uses and
// with nothing of Leadline's: swift-nio's HTTP/1.1 server, an HMAC-SHA256 check of
// X-Hub-Signature-256 with swift-crypto, and the raw body inserted into SQLite (WAL,
// synchronous=FULL) by one writer thread that commits whatever has arrived in one fsync'd
// transaction. No JSON parsing, no dedup, no retrieval, no audit: whatever acks/s this
// reaches, leadline-ingest cannot beat on the same machine.
import Crypto
import Foundation
import GRDBSQLite
import NIOCore
import NIOHTTP1
import NIOPosix

/// Rows waiting for the next commit, each with the promise its 200 waits on.
final class GroupCommitQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [(body: ByteBuffer, done: EventLoopPromise<Void>)] = []
    private let database: OpaquePointer

    init(path: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw BaselineError("cannot open \(path)") }
        self.database = db
        guard
            sqlite3_exec(
                db,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY, body BLOB)",
                nil, nil, nil) == SQLITE_OK
        else { throw BaselineError("cannot set up \(path)") }
    }

    func submit(_ body: ByteBuffer, done: EventLoopPromise<Void>) {
        condition.lock()
        pending.append((body, done))
        condition.signal()
        condition.unlock()
    }

    /// The one writer: everything submitted while the previous commit ran shares the next.
    func runWriter() {
        var insert: OpaquePointer?
        sqlite3_prepare_v2(database, "INSERT INTO inbox (body) VALUES (?)", -1, &insert, nil)
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            condition.unlock()

            var failed = sqlite3_exec(database, "BEGIN IMMEDIATE", nil, nil, nil) != SQLITE_OK
            for item in batch where !failed {
                item.body.withUnsafeReadableBytes { bytes in
                    sqlite3_bind_blob(insert, 1, bytes.baseAddress, Int32(bytes.count), nil)
                    failed = sqlite3_step(insert) != SQLITE_DONE
                }
                sqlite3_reset(insert)
            }
            failed = sqlite3_exec(database, failed ? "ROLLBACK" : "COMMIT", nil, nil, nil) != SQLITE_OK || failed
            for item in batch {
                if failed { item.done.fail(BaselineError("commit failed")) } else { item.done.succeed() }
            }
        }
    }
}

struct BaselineError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// One request at a time per connection, as the load generator sends them.
final class WebhookHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let key: SymmetricKey
    private let queue: GroupCommitQueue
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(appSecret: [UInt8], queue: GroupCommitQueue) {
        self.key = SymmetricKey(data: appSecret)
        self.queue = queue
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            guard signatureMatches(head.headers.first(name: "X-Hub-Signature-256")) else {
                return respond(context: context, status: .forbidden, head: head)
            }
            let promise = context.eventLoop.makePromise(of: Void.self)
            queue.submit(body, done: promise)
            body = ByteBuffer()
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenComplete { result in
                let (handler, context) = bound.value
                handler.respond(
                    context: context, status: (try? result.get()) == nil ? .serviceUnavailable : .ok, head: head)
            }
        }
    }

    private func signatureMatches(_ header: String?) -> Bool {
        guard let header, header.hasPrefix("sha256="), let expected = Self.bytes(hex: header.dropFirst(7)) else {
            return false
        }
        return body.withUnsafeReadableBytes {
            HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: $0, using: key)
        }
    }

    private static func bytes(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, head request: HTTPRequestHead) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: "2")
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

func serve(port: Int, database: String, appSecret: String) throws {
    let queue = try GroupCommitQueue(path: database)
    let secret = Array(appSecret.utf8)
    Thread { queue.runWriter() }.start()
    let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.backlog, value: 256)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.pipeline.configureHTTPServerPipeline().flatMap {
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WebhookHandler(appSecret: secret, queue: queue))
                }
            }
        }
        .bind(host: "127.0.0.1", port: port).wait()
    // The benchmark waits for this line before it sends.
    FileHandle.standardOutput.write(Data("listening on 127.0.0.1:\(port)\n".utf8))
    try server.closeFuture.wait()
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let port = Int(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: webhook-baseline-nio PORT DATABASE APP_SECRET\n".utf8))
    exit(2)
}
try serve(port: port, database: arguments[2], appSecret: arguments[3])
