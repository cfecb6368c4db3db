import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a secret from standard input (piped) or a no-echo prompt (terminal). Never from argv,
/// where every user on the host could read it in the process list.
enum SecretInput {
    static func read(prompt: String) throws -> String {
        if isatty(0) == 0 {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            var text = String(decoding: data, as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            if text.hasSuffix("\r") { text.removeLast() }
            guard !text.isEmpty else { throw LeadctlFailure.usage("no value on standard input") }
            return text
        }
        Output.standardError(Data(prompt.utf8))
        var original = termios()
        tcgetattr(0, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSAFLUSH, &silent)
        defer {
            tcsetattr(0, TCSAFLUSH, &original)
            Output.standardError(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw LeadctlFailure.usage("no value entered")
        }
        return line
    }
}
