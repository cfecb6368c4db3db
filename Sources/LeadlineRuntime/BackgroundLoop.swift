import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Wakes a sleeping loop early: new work arrived, or the daemon is shutting down.
public final class Wakeup: Sendable {
    private let state = NIOLockedValueBox<(signaled: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    public init() {}

    public func signal() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.signaled = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns when signalled or after `timeout`, whichever comes first.
    public func wait(timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let already = state.withLockedValue { state -> Bool in
                if state.signaled {
                    state.signaled = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if already { return continuation.resume() }
            let (seconds, attoseconds) = timeout.components
            let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
            MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(nanoseconds)) {
                let waiter = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                    guard let waiter = state.waiter else { return nil }
                    state.waiter = nil
                    return waiter
                }
                waiter?.resume()
            }
        }
    }
}

/// A daemon's background job (retrieval, delivery, reconciliation, retention, audit forwarding):
/// runs `body` whenever woken or every `interval`, and stops between two runs on graceful
/// shutdown, never in the middle of one. The shared loop every daemon's workers use.
public struct BackgroundLoop: Service, CustomStringConvertible {
    public let name: String
    private let interval: Duration
    private let wakeup: Wakeup
    private let logger: Logger
    /// Returns true when there may be more work right away (run again without sleeping).
    private let body: @Sendable () async -> Bool
    /// False when the first run already happened before serving (so it is not repeated at once).
    private let runAtStart: Bool

    public init(
        name: String, interval: Duration, wakeup: Wakeup = Wakeup(), logger: Logger, runAtStart: Bool = true,
        body: @escaping @Sendable () async -> Bool
    ) {
        self.runAtStart = runAtStart
        self.name = name
        self.interval = interval
        self.wakeup = wakeup
        self.logger = logger
        self.body = body
    }

    public var description: String { name }

    public func run() async throws {
        let wakeup = self.wakeup
        let runAtStart = self.runAtStart
        await withGracefulShutdownHandler {
            if !runAtStart { await wakeup.wait(timeout: interval) }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let more = await body()
                if Task.isShuttingDownGracefully { break }
                if !more { await wakeup.wait(timeout: interval) }
            }
            logger.debug("background loop stopped", metadata: ["loop": "\(name)"])
        } onGracefulShutdown: {
            wakeup.signal()
        }
    }
}
