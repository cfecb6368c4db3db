import Foundation
import NIOConcurrencyHelpers

/// An HTTP client over libcurl: TLS verification always on, connect and total timeouts, a
/// response size limit, and connection reuse (the multi handle keeps the connection cache, easy
/// handles are pooled). Transfers run on a thread of their own (``TransferDriver``), never on the
/// cooperative executor.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        public var connectTimeout: Duration = .seconds(5)
        public var totalTimeout: Duration = .seconds(30)
        public var maxResponseBytes: Int = 8 << 20
        public var userAgent: String = "Leadline/0.1"
        /// Idle easy handles kept for reuse: about as many as transfers run at once.
        public var keptHandles: Int = 16
        public init() {}
    }

    public let configuration: Configuration
    private let handles = NIOLockedValueBox<[EasyHandle]>([])
    private let driver = NIOLockedValueBox<TransferDriver?>(nil)

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    deinit {
        driver.withLockedValue { $0?.shutdown() }
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        // libcurl is opened and initialized on the first transfer, not when the daemon starts
        // (see CCurl/shim.h): ingest and router answer their first call ~10 ms sooner.
        let api = try Curl.api()
        let driver = self.driver.withLockedValue { driver in
            if let driver { return driver }
            let started = TransferDriver(api: api) { [weak self] handle in self?.returnHandle(handle) }
            driver = started
            return started
        }
        let handle = handles.withLockedValue { $0.popLast() } ?? EasyHandle(api: api)
        let prepared: EasyHandle.Prepared
        do {
            prepared = try handle.prepare(request, configuration: configuration)
        } catch {
            returnHandle(handle)
            throw error
        }
        return try await withCheckedThrowingContinuation { continuation in
            driver.start(TransferDriver.Transfer(handle: handle, prepared: prepared) { continuation.resume(with: $0) })
        }
    }

    /// Keeps idle handles up to `keptHandles`: a dropped handle is a new one to set up later.
    private func returnHandle(_ handle: EasyHandle) {
        let keep = configuration.keptHandles
        handles.withLockedValue { pool in
            if pool.count < keep { pool.append(handle) }
        }
    }
}
