import CSystemd

/// sd_notify: READY=1 once storage is open, STATUS= lines, STOPPING=1, and WATCHDOG=1 pings.
/// All of it is a no-op when NOTIFY_SOCKET is unset (started by hand or in tests).
public struct SystemdNotifier: Sendable {
    public init() {}

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func status(_ status: String) { send("STATUS=\(status)") }
    public func stopping() { send("STOPPING=1\nSTATUS=shutting down") }
    public func watchdog() { send("WATCHDOG=1") }

    /// Half of WatchdogSec, when the service manager asked for pings at all.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec / 2))
    }

    /// Pings the watchdog until cancelled. Runs on the cooperative pool, so a wedged pool
    /// (the thing the watchdog exists to catch) also stops the pings.
    public func runWatchdog() async {
        guard let interval = watchdogInterval else { return }
        while !Task.isCancelled {
            watchdog()
            try? await Task.sleep(for: interval)
        }
    }

    private func send(_ state: String) {
        _ = sd_notify(0, state)
    }
}
