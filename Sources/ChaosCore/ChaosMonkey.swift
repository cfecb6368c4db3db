import Foundation
import LeadlineTestSupport
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// SIGKILLs a random running daemon at random moments and starts it again after a random
/// RestartSec, as systemd's Restart=on-failure would. A daemon that exits on its own is
/// restarted too, and counted: that is a crash the test did not cause.
final class ChaosMonkey: Sendable {
    private let supervisor: SocketActivationSupervisor
    private let options: ChaosOptions
    private let random: SeededRandom
    private let stopped = NIOLockedValueBox(false)
    private let down = NIOLockedValueBox<Set<String>>([])
    private let killsByService = NIOLockedValueBox<[String: Int]>([:])
    private let unexpected = NIOLockedValueBox<[String]>([])
    private let restartFailures = NIOLockedValueBox<[String]>([])

    init(supervisor: SocketActivationSupervisor, options: ChaosOptions, random: SeededRandom) {
        self.supervisor = supervisor
        self.options = options
        self.random = random
    }

    var kills: [String: Int] { killsByService.withLockedValue { $0 } }
    var killCount: Int { kills.values.reduce(0, +) }
    var downNow: [String] { down.withLockedValue { $0.sorted() } }
    /// "service: status" for each exit nobody caused.
    var unexpectedExits: [String] { unexpected.withLockedValue { $0 } }
    var failedRestarts: [String] { restartFailures.withLockedValue { $0 } }

    func stop() { stopped.withLockedValue { $0 = true } }

    /// Kills until `stop()`, then waits for every daemon to be up again.
    func run() async {
        await withTaskGroup(of: Void.self) { restarts in
            var nextKill = ContinuousClock.now + seconds(random.double(in: options.killInterval))
            while !stopped.withLockedValue({ $0 }) && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
                for (service, status) in supervisor.reapUnexpectedExits() {
                    unexpected.withLockedValue { $0.append("\(service): wait status \(status)") }
                    restarts.addTask { await self.restart(service, killed: false) }
                }
                guard ContinuousClock.now >= nextKill else { continue }
                nextKill = ContinuousClock.now + seconds(random.double(in: options.killInterval))
                let running = SocketActivationSupervisor.allServices.filter { supervisor.process($0) != nil }
                guard let victim = random.element(of: running) else { continue }
                do {
                    try supervisor.stop(victim, signal: SIGKILL, timeout: 10)
                } catch {
                    restartFailures.withLockedValue { $0.append("\(victim): \(error)") }
                }
                killsByService.withLockedValue { $0[victim, default: 0] += 1 }
                restarts.addTask { await self.restart(victim, killed: true) }
            }
        }
    }

    private func restart(_ service: String, killed: Bool) async {
        down.withLockedValue { _ = $0.insert(service) }
        defer { down.withLockedValue { _ = $0.remove(service) } }
        try? await Task.sleep(for: seconds(random.double(in: options.restartDelay)))
        do {
            try supervisor.start(service)
        } catch {
            restartFailures.withLockedValue { $0.append("\(service): \(error)") }
        }
    }

    private func seconds(_ value: Double) -> Duration { .milliseconds(Int64(value * 1000)) }
}
