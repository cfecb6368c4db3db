import NIOCore

/// Runs a call's task on its connection's event loop. A call that never suspends (ping, info,
/// a cached read) then answers without leaving the loop's thread; one that awaits storage hops
/// to it and back once. Hopping to the global executor and back for every call cost two thread
/// wake-ups, more than the call itself.
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
