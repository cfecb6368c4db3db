import NIOConcurrencyHelpers
import NIOCore

/// The running calls of one connection with their deadlines, behind a single timer. A timer
/// scheduled and cancelled for every call (a promise, a heap entry and a lock in swift-nio each
/// time) was an eighth of a ping's CPU; here a call costs a dictionary entry. Every call of a
/// connection gets the same timeout, so a later call never needs the timer earlier: it stays
/// armed for the earliest deadline, and when it fires it expires what is due and re-arms for
/// the next.
final class CallTimeouts: Sendable {
    typealias Token = Int

    private struct State {
        var lastToken: Token = 0
        var calls: [Token: (deadline: NIODeadline, expire: @Sendable () -> Void)] = [:]
        var armedFor: NIODeadline?
    }

    private let state = NIOLockedValueBox(State())
    private let loop: any EventLoop

    init(loop: any EventLoop) {
        self.loop = loop
    }

    var pendingCount: Int { state.withLockedValue { $0.calls.count } }

    /// `expire` runs on the loop once `deadline` has passed, unless `finished(_:)` came first.
    func add(deadline: NIODeadline, expire: @escaping @Sendable () -> Void) -> Token {
        let (token, arm) = state.withLockedValue { state -> (Token, Bool) in
            state.lastToken += 1
            state.calls[state.lastToken] = (deadline, expire)
            guard state.armedFor.map({ deadline < $0 }) ?? true else { return (state.lastToken, false) }
            state.armedFor = deadline
            return (state.lastToken, true)
        }
        if arm { schedule(at: deadline) }
        return token
    }

    func finished(_ token: Token) {
        _ = state.withLockedValue { $0.calls.removeValue(forKey: token) }
    }

    private func schedule(at deadline: NIODeadline) {
        loop.scheduleTask(deadline: deadline) { self.fire() }
    }

    private func fire() {
        let now = NIODeadline.now()
        let (due, next) = state.withLockedValue { state -> ([@Sendable () -> Void], NIODeadline?) in
            var due: [@Sendable () -> Void] = []
            var next: NIODeadline?
            for (token, call) in state.calls {
                if call.deadline <= now {
                    due.append(call.expire)
                    state.calls[token] = nil
                } else if next.map({ call.deadline < $0 }) ?? true {
                    next = call.deadline
                }
            }
            // A timer armed earlier than this one (see `add`) may still be pending; a second
            // firing finds nothing due and costs one scan.
            state.armedFor = next
            return (due, next)
        }
        for expire in due { expire() }
        if let next { schedule(at: next) }
    }
}
