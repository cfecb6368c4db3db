import Foundation
import NIOConcurrencyHelpers

/// Per-destination pacing and protection, in memory: a token bucket (the destination's
/// ratePerSecond or the kind's default), a pause the vendor asked for (429, rate headers), and a
/// circuit breaker that stops sending after consecutive failures and lets one probe through
/// after the cooldown.
final class DestinationHealth: Sendable {
    enum Circuit: String, Sendable { case closed, open, halfOpen = "half-open" }

    private struct State {
        var tokens: Double
        var refilledAt: Double
        var pausedUntil: Double = 0
        var circuit = Circuit.closed
        var consecutiveFailures = 0
        var openedAt: Double = 0
        var probeInFlight = false
    }

    private let states = NIOLockedValueBox([String: State]())
    private let timing: DeliveryTiming

    init(timing: DeliveryTiming) {
        self.timing = timing
    }

    static func defaultRate(_ kind: DestinationKind) -> Double {
        switch kind {
        // Within the vendors' published limits: HubSpot 100-190 per 10 s per app, Pipedrive 80 per
        // 2 s, Salesforce by daily allocation; webhooks are the operator's own servers.
        case .hubspot: return 10
        case .salesforce: return 25
        case .pipedrive: return 20
        case .webhook: return 200
        }
    }

    /// How many deliveries may start now (at most `wanted`); taken from the bucket.
    func admit(_ destination: Destination, wanted: Int, now: Double) -> Int {
        let rate = destination.options.ratePerSecond ?? Self.defaultRate(destination.kind)
        return states.withLockedValue { states in
            var state = states[destination.id] ?? State(tokens: max(1, rate), refilledAt: now)
            defer { states[destination.id] = state }
            if now < state.pausedUntil { return 0 }
            switch state.circuit {
            case .open:
                guard now - state.openedAt >= timing.circuitCooldown else { return 0 }
                state.circuit = .halfOpen
                state.probeInFlight = false
                fallthrough
            case .halfOpen:
                if state.probeInFlight { return 0 }
                state.probeInFlight = true
                return min(wanted, 1)
            case .closed:
                break
            }
            state.tokens = min(max(1, rate), state.tokens + (now - state.refilledAt) * rate)
            state.refilledAt = now
            let granted = min(wanted, Int(state.tokens))
            state.tokens -= Double(granted)
            return granted
        }
    }

    /// Admissions that found nothing to send: their tokens return, and a half-open probe slot too.
    func giveBack(_ destinationId: String, _ count: Int) {
        states.withLockedValue { states in
            guard var state = states[destinationId] else { return }
            if state.circuit == .halfOpen {
                state.probeInFlight = false
            } else {
                state.tokens += Double(count)
            }
            states[destinationId] = state
        }
    }

    /// The vendor asked for a pause (429, REQUEST_LIMIT_EXCEEDED): nothing starts before `until`.
    func pause(_ destinationId: String, until: Double) {
        states.withLockedValue { states in
            if var state = states[destinationId] {
                state.pausedUntil = max(state.pausedUntil, until)
                states[destinationId] = state
            }
        }
    }

    func recordSuccess(_ destinationId: String) {
        states.withLockedValue { states in
            guard var state = states[destinationId] else { return }
            state.consecutiveFailures = 0
            state.circuit = .closed
            state.probeInFlight = false
            states[destinationId] = state
        }
    }

    func recordFailure(_ destinationId: String, now: Double) {
        states.withLockedValue { states in
            guard var state = states[destinationId] else { return }
            state.consecutiveFailures += 1
            if state.circuit == .halfOpen || state.consecutiveFailures >= timing.circuitThreshold {
                state.circuit = .open
                state.openedAt = now
            }
            state.probeInFlight = false
            states[destinationId] = state
        }
    }

    /// An answer that says nothing about the destination's health (a rate limit): a half-open
    /// circuit may probe again.
    func recordNeutral(_ destinationId: String) {
        states.withLockedValue { states in
            guard var state = states[destinationId] else { return }
            state.probeInFlight = false
            states[destinationId] = state
        }
    }

    func snapshot(_ destinationId: String, now: Double) -> (circuit: Circuit, consecutiveFailures: Int) {
        states.withLockedValue { states in
            guard let state = states[destinationId] else { return (.closed, 0) }
            if state.circuit == .open && now - state.openedAt >= timing.circuitCooldown {
                return (.halfOpen, state.consecutiveFailures)
            }
            return (state.circuit, state.consecutiveFailures)
        }
    }

    func forget(_ destinationId: String) {
        states.withLockedValue { $0[destinationId] = nil }
    }
}
