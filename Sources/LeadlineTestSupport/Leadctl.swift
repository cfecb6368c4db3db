import Foundation

/// Runs the real leadctl binary against a test stack, as an operator would.
public struct LeadctlRun: Sendable {
    public var exitCode: Int32?
    public var stdout: String
    public var stderr: String

    public init(exitCode: Int32?, stdout: String, stderr: String) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
    }

    public var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
}

extension TestStack {
    /// `leadctl ARGS` with LEADLINE_CONFIG pointing at this stack; `input` goes to its stdin.
    public func leadctl(_ arguments: [String], input: String? = nil, timeout: Double = 60) throws -> LeadctlRun {
        let id = UUID().uuidString.prefix(8)
        let out = "\(root)/leadctl-\(id).out"
        let err = "\(root)/leadctl-\(id).err"
        var inputPath: String?
        if let input {
            inputPath = "\(root)/leadctl-\(id).in"
            try input.write(toFile: inputPath!, atomically: true, encoding: .utf8)
        }
        let child = try ChildProcess(
            path: "\(TestStack.binDirectory)/leadctl", arguments: arguments,
            environment: ["LEADLINE_CONFIG": configPath, "PATH": "/usr/bin:/bin", "HOME": root], logPath: out,
            errorPath: err, inputPath: inputPath)
        try child.waitForExit(timeout: timeout)
        return LeadctlRun(
            exitCode: child.exitCode, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }
}
