import Foundation
import LeadlineTestDoubles

// Vendor test doubles on loopback for `make run` and manual end-to-end checks.
//   leadline-doubles --graph-port N [--graph-app-secret S]
// Each double this binary owns is started when its port is given; it then serves until killed.

func value(after flag: String) -> String? {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func port(_ flag: String) -> Int? {
    guard let text = value(after: flag) else { return nil }
    guard let port = Int(text), (0...65535).contains(port) else {
        FileHandle.standardError.write(Data("leadline-doubles: \(flag) needs a port number\n".utf8))
        exit(64)
    }
    return port
}

var started: [Any] = []
if let graphPort = port("--graph-port") {
    let graph = try await GraphAPIDouble(port: graphPort, appSecret: value(after: "--graph-app-secret"))
    FileHandle.standardOutput.write(Data("graph api double on \(graph.baseURL)\n".utf8))
    started.append(graph)
}
if started.isEmpty {
    FileHandle.standardError.write(Data("usage: leadline-doubles --graph-port N [--graph-app-secret S]\n".utf8))
    exit(64)
}
while true { try await Task.sleep(for: .seconds(3600)) }
