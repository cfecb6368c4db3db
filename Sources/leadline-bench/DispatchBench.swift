import Foundation
import LeadlineRPC
import LeadlineRuntime
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// CPU per service.ping through the dispatcher alone (parse, authorize, run, encode), no socket:
/// the part of a round trip that is ours rather than the kernel's.
struct DispatchBench {
    func run(into table: inout BenchTable) async throws {
        var methods = RPCMethodTable()
        methods.register(Ping.self, .anyone) { _, _ in Ping.Result(pong: true, time: AuditEvent.timestamp(Date())) }
        // Caller, calls and timers on one event loop thread: no wake-ups between threads, which
        // would otherwise be most of what this measures.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let dispatcher = RPCDispatcher(table: methods, timerLoop: loop)
        let caller = Caller(
            credentials: PeerCredentials(uid: 0, gid: 0, pid: 1), userName: "root", isAdmin: true, isSubmitter: false,
            services: [])
        let line = Array(#"{"jsonrpc":"2.0","method":"service.ping","id":1}"#.utf8)
        let calls = 50_000
        let perCall = await Task(executorPreference: EventLoopTaskExecutor(loop: loop)) {
            for _ in 0..<2000 { _ = await dispatcher.handle(line: line, caller: caller) }
            let before = Self.processCPUSeconds()
            for _ in 0..<calls { _ = await dispatcher.handle(line: line, caller: caller) }
            return (Self.processCPUSeconds() - before) / Double(calls) * 1e6
        }.value
        try await group.shutdownGracefully()
        table.add(
            BenchRow(
                name: "dispatcher CPU per service.ping (in process, no socket)",
                value: format(perCall, " us", digits: 2),
                baseline: "-", ratio: "-", target: "-", met: nil))
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
