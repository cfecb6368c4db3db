import CCurl
import Foundation
import NIOConcurrencyHelpers

/// One thread that runs every transfer of a client through a curl multi handle: it sleeps in
/// curl_multi_poll until a socket is ready, a timer is due or a new transfer arrives, then moves
/// all of them on at once. A blocking transfer per pool thread (64 threads in the router) cost
/// each delivery two thread wake-ups and a poll of its own; those threads took a fifth of the
/// router's CPU under load. Started with the client's first transfer, stopped with the client.
final class TransferDriver: @unchecked Sendable {
    /// A transfer in flight, from `start` until its completion is called.
    final class Transfer: @unchecked Sendable {
        let handle: EasyHandle
        let prepared: EasyHandle.Prepared
        let started = ContinuousClock.now
        let completion: @Sendable (Result<HTTPResponse, Error>) -> Void

        init(
            handle: EasyHandle, prepared: EasyHandle.Prepared,
            completion: @escaping @Sendable (Result<HTTPResponse, Error>) -> Void
        ) {
            self.handle = handle
            self.prepared = prepared
            self.completion = completion
        }
    }

    private struct Inbox {
        var transfers: [Transfer] = []
        var stopping = false
    }

    private let api: UnsafePointer<leadline_curl_api>
    private let multi: UnsafeMutableRawPointer
    private let inbox = NIOLockedValueBox(Inbox())
    /// The driver thread's alone: transfers in the multi handle, by easy handle.
    private var running: [UnsafeMutableRawPointer: Transfer] = [:]
    private let handBack: @Sendable (EasyHandle) -> Void

    /// `handBack` gets each easy handle once its transfer is over, for reuse.
    init(api: UnsafePointer<leadline_curl_api>, handBack: @escaping @Sendable (EasyHandle) -> Void) {
        self.api = api
        multi = leadline_curl_multi_init(api)
        self.handBack = handBack
        // Named for top -H and /proc: one thread per client, whatever the number of transfers.
        let thread = Thread { [self] in
            Thread.current.name = "leadline-http"
            run()
        }
        thread.start()
    }

    func start(_ transfer: Transfer) {
        let accepted = inbox.withLockedValue { inbox in
            if inbox.stopping { return false }
            inbox.transfers.append(transfer)
            return true
        }
        guard accepted else {
            return complete(transfer, nil)
        }
        leadline_curl_multi_wakeup(api, multi)
    }

    /// Fails whatever is still running and ends the thread.
    func shutdown() {
        inbox.withLockedValue { $0.stopping = true }
        leadline_curl_multi_wakeup(api, multi)
    }

    private func run() {
        while true {
            let (arrived, stopping) = inbox.withLockedValue { inbox in
                defer { inbox.transfers = [] }
                return (inbox.transfers, inbox.stopping)
            }
            if stopping {
                for transfer in running.values { leadline_curl_multi_remove_handle(api, multi, transfer.handle.curl) }
                for transfer in Array(running.values) + arrived {
                    complete(transfer, nil)
                }
                running = [:]
                leadline_curl_multi_cleanup(api, multi)
                return
            }
            for transfer in arrived {
                running[transfer.handle.curl] = transfer
                leadline_curl_multi_add_handle(api, multi, transfer.handle.curl)
            }
            var active: Int32 = 0
            leadline_curl_multi_perform(api, multi, &active)
            var easy: UnsafeMutableRawPointer?
            var code = CURLE_OK
            while leadline_curl_multi_next_done(api, multi, &easy, &code) != 0 {
                guard let easy, let transfer = running.removeValue(forKey: easy) else { continue }
                leadline_curl_multi_remove_handle(api, multi, easy)
                complete(transfer, code)
            }
            // Returns at once for a ready socket, a curl timer, or curl_multi_wakeup (a new
            // transfer, or shutdown); the bound matters only when nothing at all is going on.
            leadline_curl_multi_poll(api, multi, 1000)
        }
    }

    /// Frees the transfer's buffers, hands its easy handle back, then answers its caller; a nil
    /// code is a transfer the client's shutdown ended before curl did.
    private func complete(_ transfer: Transfer, _ code: CURLcode?) {
        let result = transfer.handle.finish(code, transfer.prepared, elapsed: ContinuousClock.now - transfer.started)
        handBack(transfer.handle)
        transfer.completion(result)
    }
}
