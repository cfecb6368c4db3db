import Foundation
import LeadlineRPC

/// Tables for people, JSON for scripts.
enum Output {
    static func printJSON(_ value: JSONValue) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(value) { standardOutput(data + Data("\n".utf8)) }
    }

    static func standardOutput(_ data: Data) { write(data, to: STDOUT_FILENO) }
    static func standardError(_ data: Data) { write(data, to: STDERR_FILENO) }

    /// All of `data`, or, when the reader has gone (`leadctl audit export | head`), the end a
    /// Unix tool meets there: killed by SIGPIPE, status 141, nothing printed. swift-nio ignores
    /// SIGPIPE for its sockets, and FileHandle.write then trapped with a crash report.
    private static func write(_ data: Data, to descriptor: Int32) {
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written >= 0 {
                    offset += written
                } else if errno == EPIPE {
                    signal(SIGPIPE, SIG_DFL)
                    raise(SIGPIPE)
                } else if errno != EINTR {
                    return
                }
            }
        }
    }

    /// Left-aligned columns, two spaces apart, with a header row.
    static func table(_ headers: [String], _ rows: [[String]]) -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }

    static func text(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return "-"
        case .string(let string)?: return string
        case .int(let number)?: return String(number)
        case .double(let number)?: return String(format: "%.1f", number)
        case .bool(let flag)?: return flag ? "yes" : "no"
        case let other?:
            return (try? JSONCoding.encode(other)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        }
    }

    /// A progress bar on stderr for long operations, only when stderr is a terminal.
    static func progress(_ done: Int, of total: Int, label: String) {
        guard isatty(2) != 0, total > 0 else { return }
        let width = 30
        let filled = min(width, done * width / total)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        Output.standardError(Data("\r\(label) [\(bar)] \(done)/\(total)".utf8))
        if done >= total { Output.standardError(Data("\n".utf8)) }
    }
}

/// leadctl's `print`, which every command's text output goes through: the same text Swift's
/// would write, but through `Output`, so a reader that goes away ends a table the way it ends
/// JSON (SIGPIPE, status 141). Swift's print wrote through stdio and failed quietly, exit 0.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    Output.standardOutput(Data((items.map { "\($0)" }.joined(separator: separator) + terminator).utf8))
}
