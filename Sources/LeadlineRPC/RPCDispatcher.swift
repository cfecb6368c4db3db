import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Turns one received line into at most one reply line: parsing, batches, notifications,
/// authorization, schema checks, per-call timeouts and error mapping live here, once, for
/// every daemon. Transport-free, so the specification's cases are unit-tested without sockets.
public final class RPCDispatcher: Sendable {
    public let table: RPCMethodTable
    public let schema: (any RPCSchemaChecking)?
    public let callTimeout: TimeAmount
    public let metrics: RPCMetrics
    /// Tests turn this on: every result is checked against its schema and a mismatch is an error.
    public let checkResults: Bool
    private let logger: Logger
    private let timerLoop: any EventLoop
    /// The deadlines of calls made through `handle(line:caller:)`; connections keep their own.
    private let timeouts: CallTimeouts

    public init(
        table: RPCMethodTable, schema: (any RPCSchemaChecking)? = nil, callTimeout: TimeAmount = .seconds(30),
        metrics: RPCMetrics = RPCMetrics(), checkResults: Bool = false, logger: Logger = Logger(label: "leadline.rpc"),
        timerLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()
    ) {
        self.table = table
        self.schema = schema
        self.callTimeout = callTimeout
        self.metrics = metrics
        self.checkResults = checkResults
        self.logger = logger
        self.timerLoop = timerLoop
        self.timeouts = CallTimeouts(loop: timerLoop)
    }

    /// Async convenience over `handle(line:caller:on:reply:)`.
    public func handle(line: some Collection<UInt8>, caller: Caller) async -> Data? {
        let executor = EventLoopTaskExecutor(loop: timerLoop)
        return await withCheckedContinuation { continuation in
            handle(line: line, caller: caller, on: executor, timeouts: timeouts) { continuation.resume(returning: $0) }
        }
    }

    /// Parses synchronously (cheap, bounded by the line limit), runs each call in its own task,
    /// and calls `reply` exactly once: with the response line, or nil when nothing is owed.
    /// Each call starts at once on the calling thread (the connection's loop) and, after any
    /// suspension, resumes on `executor`, that same loop; `timeouts` holds the connection's
    /// deadlines behind one timer. A call that never suspends wakes no other thread.
    func handle(
        line: some Collection<UInt8>, caller: Caller, on executor: EventLoopTaskExecutor, timeouts: CallTimeouts,
        reply: @escaping @Sendable (Data?) -> Void
    ) {
        let parsed: JSONValue
        do {
            // The parser accepts only valid UTF-8, so the line's encoding is looked at again
            // only to say which of the two a bad line got wrong.
            parsed = try JSONCoding.parse(line)
        } catch {
            let failure = RPCError.parseError(
                JSONParser.isValidUTF8(Array(line)) ? "the line is not valid JSON" : "the line is not valid UTF-8")
            metrics.countError(failure)
            return reply(RPCResponseEncoder.failure(id: .null, error: failure))
        }

        guard case .array(let elements) = parsed else {
            return run(IncomingCall.parse(parsed), caller: caller, executor: executor, timeouts: timeouts, reply: reply)
        }
        if elements.isEmpty {
            return reply(
                RPCResponseEncoder.failure(id: .null, error: .invalidRequest("an empty batch is not a request")))
        }
        let collector = BatchCollector(expected: elements.count, reply: reply)
        for element in elements {
            run(IncomingCall.parse(element), caller: caller, executor: executor, timeouts: timeouts) {
                collector.add($0)
            }
        }
    }

    private func run(
        _ incoming: IncomingCall, caller: Caller, executor: EventLoopTaskExecutor, timeouts: CallTimeouts,
        reply: @escaping @Sendable (Data?) -> Void
    ) {
        switch incoming {
        case .invalid(let error, let id):
            metrics.countError(error)
            reply(RPCResponseEncoder.failure(id: id, error: error))
        case .call(let method, let params, let id):
            let outcome = OnceFlag()
            let started = NIODeadline.now()
            let finish: @Sendable (Result<Data, RPCError>) -> Void = { [metrics] result in
                guard outcome.claim() else { return }
                metrics.observe(method: method, error: result.failure, seconds: started.secondsElapsed)
                guard let id else { return reply(nil) }
                switch result {
                case .success(let data): reply(RPCResponseEncoder.success(id: id, result: data))
                case .failure(let error): reply(RPCResponseEncoder.failure(id: id, error: error))
                }
            }
            let timeout = callTimeout
            let running = NIOLockedValueBox<Task<Void, Never>?>(nil)
            let token = timeouts.add(deadline: started + timeout) {
                running.withLockedValue { $0 }?.cancel()
                finish(.failure(.timeout("'\(method)' did not finish within \(timeout.nanoseconds / 1_000_000) ms")))
            }
            // Started immediately: the call runs on this thread (the connection's loop) up to
            // its first suspension, and a call that never suspends (ping, info, a cached read)
            // is answered before this returns. Enqueueing the task on the loop and switching to
            // it later was a fifth of a ping's CPU. After a suspension it resumes on `executor`.
            let work = Task.immediate(executorPreference: executor) {
                finish(await self.invoke(method: method, params: params, caller: caller))
                timeouts.finished(token)
            }
            running.withLockedValue { $0 = work }
        }
    }

    private func invoke(method: String, params: JSONValue?, caller: Caller) async -> Result<Data, RPCError> {
        guard let entry = table.entries[method] else { return .failure(.methodNotFound(method)) }
        guard entry.authorization.allows(caller) else {
            logger.notice(
                "refused call",
                metadata: ["method": "\(method)", "uid": "\(caller.credentials.uid)", "user": "\(caller.userName)"])
            return .failure(.permissionDenied("'\(method)' is reserved to \(entry.authorization.summary)"))
        }
        if let schema, let problem = schema.checkParams(method: method, params: params) {
            return .failure(problem)
        }
        let context = RPCContext(caller: caller, method: method, logger: logger)
        do {
            let data = try await entry.handler(params, context)
            if checkResults, let schema,
                let problem = schema.checkResult(method: method, result: try JSONCoding.parse(data))
            {
                logger.error(
                    "result does not match its schema", metadata: ["method": "\(method)", "problem": "\(problem)"])
                return .failure(.internalError("result of '\(method)' does not match its schema: \(problem)"))
            }
            return .success(data)
        } catch let error as RPCError {
            return .failure(error)
        } catch is CancellationError {
            return .failure(.timeout("'\(method)' was cancelled"))
        } catch {
            // Unexpected errors are logged by type only: their text may quote data we must not leak.
            logger.error("handler failed", metadata: ["method": "\(method)", "error": "\(type(of: error))"])
            return .failure(.internalError())
        }
    }

}

/// Exactly-once guard shared by a call's completion and its timeout.
final class OnceFlag: Sendable {
    private let done = NIOLockedValueBox(false)
    func claim() -> Bool {
        done.withLockedValue { done in
            if done { return false }
            done = true
            return true
        }
    }
}

/// Gathers a batch's replies; the batch answers once every element has, and not at all
/// when every element was a notification (as the specification says).
final class BatchCollector: Sendable {
    private let state: NIOLockedValueBox<(remaining: Int, replies: [Data])>
    private let reply: @Sendable (Data?) -> Void

    init(expected: Int, reply: @escaping @Sendable (Data?) -> Void) {
        self.state = NIOLockedValueBox((expected, []))
        self.reply = reply
    }

    func add(_ data: Data?) {
        let finished: [Data]? = state.withLockedValue { state in
            if let data { state.replies.append(data) }
            state.remaining -= 1
            return state.remaining == 0 ? state.replies : nil
        }
        guard let finished else { return }
        if finished.isEmpty { return reply(nil) }
        var out = Data([UInt8(ascii: "[")])
        for (index, element) in finished.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(element)
        }
        out.append(UInt8(ascii: "]"))
        reply(out)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

extension NIODeadline {
    var secondsElapsed: Double { Double((NIODeadline.now() - self).nanoseconds) / 1e9 }
}
