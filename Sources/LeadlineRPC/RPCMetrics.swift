import NIOConcurrencyHelpers

/// The RPC layer's counters and gauges, rendered in the Prometheus text format by `service.metrics`.
/// Small on purpose: the daemons need a handful of series, not a metrics framework.
public final class RPCMetrics: Sendable {
    private struct State {
        var calls: [String: Int] = [:]
        var errors: [String: Int] = [:]
        var secondsSum: [String: Double] = [:]
        var connections = 0
        var connectionsTotal = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public func observe(method: String, error: RPCError?, seconds: Double) {
        state.withLockedValue { state in
            state.calls[method, default: 0] += 1
            state.secondsSum[method, default: 0] += seconds
            if let error { state.errors[error.name, default: 0] += 1 }
        }
    }

    public func countError(_ error: RPCError) {
        state.withLockedValue { $0.errors[error.name, default: 0] += 1 }
    }

    public func connectionOpened() {
        state.withLockedValue {
            $0.connections += 1
            $0.connectionsTotal += 1
        }
    }

    public func connectionClosed() {
        state.withLockedValue { $0.connections -= 1 }
    }

    public func render(service: String) -> String {
        let snapshot = state.withLockedValue { $0 }
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
        }
        family("leadline_rpc_calls_total", "counter", "JSON-RPC calls answered, by method.")
        for (method, count) in snapshot.calls.sorted(by: { $0.key < $1.key }) {
            lines.append("leadline_rpc_calls_total{service=\"\(service)\",method=\"\(method)\"} \(count)")
        }
        family("leadline_rpc_call_seconds_sum", "counter", "Time spent in JSON-RPC calls, by method.")
        for (method, seconds) in snapshot.secondsSum.sorted(by: { $0.key < $1.key }) {
            lines.append("leadline_rpc_call_seconds_sum{service=\"\(service)\",method=\"\(method)\"} \(seconds)")
        }
        family("leadline_rpc_errors_total", "counter", "JSON-RPC errors sent, by error name.")
        for (name, count) in snapshot.errors.sorted(by: { $0.key < $1.key }) {
            lines.append("leadline_rpc_errors_total{service=\"\(service)\",error=\"\(name)\"} \(count)")
        }
        family("leadline_rpc_connections", "gauge", "Open client connections.")
        lines.append("leadline_rpc_connections{service=\"\(service)\"} \(snapshot.connections)")
        family("leadline_rpc_connections_total", "counter", "Client connections accepted.")
        lines.append("leadline_rpc_connections_total{service=\"\(service)\"} \(snapshot.connectionsTotal)")
        return lines.joined(separator: "\n") + "\n"
    }
}
