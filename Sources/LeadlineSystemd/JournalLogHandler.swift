import CSystemd
import Foundation
import LeadlineRPC
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log backend that writes structured journald entries (MESSAGE, PRIORITY, one
/// LEADLINE_<KEY> field per metadata key) under systemd, and logfmt-style lines to stderr
/// otherwise. Callers must never put secrets or personal data in messages or metadata.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level {
        get { level.current }
        set { level.current = newValue }
    }
    public var metadataProvider: Logger.MetadataProvider?

    private let label: String
    private let identifier: String
    private let toJournal: Bool
    private let level: SharedLogLevel

    public init(
        label: String, identifier: String, level: SharedLogLevel, toJournal: Bool = JournalLogHandler.underJournald
    ) {
        self.label = label
        self.identifier = identifier
        self.level = level
        self.toJournal = toJournal
    }

    /// systemd sets JOURNAL_STREAM when stderr is connected to the journal.
    public static var underJournald: Bool {
        ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        if toJournal {
            var fields = [
                "MESSAGE=\(event.message)", "PRIORITY=\(Self.priority(event.level))",
                "SYSLOG_IDENTIFIER=\(identifier)", "LEADLINE_LOGGER=\(label)",
                "CODE_FILE=\(event.file)", "CODE_LINE=\(event.line)", "CODE_FUNC=\(event.function)",
            ]
            for (key, value) in merged {
                fields.append("LEADLINE_\(Self.fieldName(key))=\(value)")
            }
            Self.send(fields)
        } else {
            var line = "\(UTCTimestamp.seconds(Date())) \(event.level) \(identifier): \(event.message)"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
            line += "\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    private static func send(_ fields: [String]) {
        var vectors: [iovec] = fields.map { field in
            let bytes = Array(field.utf8)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            return iovec(iov_base: buffer, iov_len: bytes.count)
        }
        _ = sd_journal_sendv(&vectors, Int32(vectors.count))
        for vector in vectors { vector.iov_base.deallocate() }
    }

    /// journald field names: upper-case letters, digits and underscores.
    static func fieldName(_ key: String) -> String {
        String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}

/// One log level for every logger of a daemon, so `service.setLogLevel` changes them all at once.
public final class SharedLogLevel: Sendable {
    private let storage: Mutex
    public init(_ level: Logger.Level) {
        storage = Mutex(level)
    }
    public var current: Logger.Level {
        get { storage.get() }
        set { storage.set(newValue) }
    }

    final class Mutex: @unchecked Sendable {
        private var value: Logger.Level
        private let lock = NSLock()
        init(_ value: Logger.Level) { self.value = value }
        func get() -> Logger.Level { lock.withLock { value } }
        func set(_ newValue: Logger.Level) { lock.withLock { value = newValue } }
    }
}
