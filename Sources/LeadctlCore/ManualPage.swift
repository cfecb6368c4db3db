import ArgumentParser
import Foundation

/// Renders a man page from the commands' own help, so the page never drifts from `--help`.
enum ManualPage {
    static func render(root: ParsableCommand.Type) -> String {
        let configuration = root.configuration
        var page = [
            ".TH LEADCTL 1 \"\" \"Leadline\" \"Leadline Manual\"",
            ".SH NAME",
            "leadctl \\- \(escape(configuration.abstract))",
            ".SH SYNOPSIS",
            ".B leadctl",
            "\\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
            ".SH DESCRIPTION",
            ".nf",
            escape(configuration.discussion),
            ".fi",
            ".SH COMMANDS",
        ]
        for command in flatten(root, prefix: "leadctl") where command.0 != "leadctl" {
            page.append(".SS \(escape(command.0))")
            page.append(".nf")
            page.append(escape(root.helpMessage(for: command.1, columns: 80)))
            page.append(".fi")
        }
        page.append(".SH SEE ALSO")
        page.append("systemctl(1), journalctl(1), systemd.socket(5)")
        return page.joined(separator: "\n")
    }

    private static func flatten(_ command: ParsableCommand.Type, prefix: String) -> [(String, ParsableCommand.Type)] {
        let configuration = command.configuration
        guard configuration.shouldDisplay else { return [] }
        var result = [(prefix, command)]
        for sub in configuration.subcommands {
            let name = sub.configuration.commandName ?? String(describing: sub).lowercased()
            result += flatten(sub, prefix: "\(prefix) \(name)")
        }
        return result
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") || $0.hasPrefix("'") ? "\\&" + $0 : String($0) }.joined(separator: "\n")
    }
}
