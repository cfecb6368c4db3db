import NIOCore

/// Where a call's task resumes after it suspends: its connection's event loop. (It starts there
/// too, immediately, in the dispatcher.) A call that awaits storage hops to the writer and back
/// once; resuming on the global executor instead cost two more thread wake-ups per call, more
/// than the call itself.
public final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    public let loop: any EventLoop

    public init(loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
