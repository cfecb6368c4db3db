import Foundation
import LeadlineConfig
import LeadlineRPC
import LeadlineRuntime

// libFuzzer entry point. LEADLINE_FUZZ_TARGET picks what the bytes feed:
//   rpc      the JSON-RPC line decoder and dispatcher (framing, batches, params checks)
//   config   the TOML config loader
//   webhook  the Meta webhook POST body: signature check and payload parser (WebhookFuzzTarget)
//   graph    a Graph API lead answer or page, normalized to a lead (GraphFuzzTarget)
// Any crash, trap or sanitizer report is a finding, and so is a normalized lead the router would
// refuse (RouterAcceptance); returning normally is a pass.

let target = ProcessInfo.processInfo.environment["LEADLINE_FUZZ_TARGET"] ?? "rpc"

let dispatcher: RPCDispatcher = {
    var table = RPCMethodTable()
    table.registerRaw("service.ping", .anyone) { _, _ in ["pong": true] }
    table.registerRaw("service.setLogLevel", .admin) { params, _ in params ?? .null }
    let schema = try? OpenRPCSchema(service: "vault")
    // The daemons' own timer loop (NIO's shared group): an embedded loop is not thread-safe.
    return RPCDispatcher(table: table, schema: schema, callTimeout: .seconds(5))
}()

let caller = Caller(
    credentials: PeerCredentials(uid: 0, gid: 0, pid: 1), userName: "root", isAdmin: true, isSubmitter: false,
    services: [])

func fuzzRPC(_ bytes: [UInt8]) {
    // Frame exactly as the server does, then dispatch every complete line.
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        let done = DispatchSemaphore(value: 0)
        let frame = Array(line)
        Task {
            _ = await dispatcher.handle(line: frame, caller: caller)
            done.signal()
        }
        done.wait()
    }
}

func fuzzConfig(_ bytes: [UInt8]) {
    guard let text = String(validating: bytes, as: UTF8.self) else { return }
    _ = try? LeadlineConfig.parse(text, file: "fuzz.toml")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "config": fuzzConfig(bytes)
    case "webhook": WebhookFuzzTarget.run(bytes)
    case "graph": GraphFuzzTarget.run(bytes)
    case "rpc": fuzzRPC(bytes)
    // A misspelt target would otherwise fuzz something else and report its clean run.
    default: fatalError("LEADLINE_FUZZ_TARGET must be rpc, config, webhook or graph")
    }
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// The executable's entry point (SwiftPM names it after the module): libFuzzer's driver.
@_cdecl("leadline_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzz)
}
