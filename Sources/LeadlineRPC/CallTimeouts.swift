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
        /// The one live timer. One replaced by an earlier one still fires, sees that it is no
        /// longer this, and does nothing, so there is never more than one chain of timers.
        var armed: (deadline: NIODeadline, generation: Int)?
        var generation = 0
    }

    private let state = NIOLockedValueBox(State())
    private let loop: any EventLoop

    init(loop: any EventLoop) {
        self.loop = loop
    }

    var pendingCount: Int { state.withLockedValue { $0.calls.count } }

    /// `expire` runs on the loop once `deadline` has passed, unless `finished(_:)` came first.
    func add(deadline: NIODeadline, expire: @escaping @Sendable () -> Void) -> Token {
        let (token, arm) = state.withLockedValue { state -> (Token, Int?) in
            state.lastToken += 1
            state.calls[state.lastToken] = (deadline, expire)
            // Calls of one connection come in deadline order, so this is rare: a caller of
            // the dispatcher's shared registry that computed its deadline a moment earlier.
            guard state.armed.map({ deadline < $0.deadline }) ?? true else { return (state.lastToken, nil) }
            state.generation += 1
            state.armed = (deadline, state.generation)
            return (state.lastToken, state.generation)
        }
        if let arm { schedule(at: deadline, generation: arm) }
        return token
    }

    func finished(_ token: Token) {
        _ = state.withLockedValue { $0.calls.removeValue(forKey: token) }
    }

    private func schedule(at deadline: NIODeadline, generation: Int) {
        loop.scheduleTask(deadline: deadline) { self.fire(generation: generation) }
    }

    private func fire(generation: Int) {
        let now = NIODeadline.now()
        let (due, rearm) = state.withLockedValue { state -> ([@Sendable () -> Void], (NIODeadline, Int)?) in
            guard state.armed?.generation == generation else { return ([], nil) }
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
            guard let next else {
                state.armed = nil
                return (due, nil)
            }
            state.generation += 1
            state.armed = (next, state.generation)
            return (due, (next, state.generation))
        }
        for expire in due { expire() }
        if let (deadline, generation) = rearm { schedule(at: deadline, generation: generation) }
    }
}
