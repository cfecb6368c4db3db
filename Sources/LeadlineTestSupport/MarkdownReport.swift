import Foundation

/// BENCHMARKS.md is written by two runs (`make bench`, `make test-chaos`): each owns its part,
/// a "## Title" section running to the next "## " heading, and leaves the other's alone.
public enum MarkdownReport {
    /// `make test-chaos`'s section.
    public static let crashTestTitle = "Crash test"

    /// The section with that title, heading included, or nil.
    public static func section(_ title: String, in document: String) -> String? {
        guard let range = sectionRange(title, in: document) else { return nil }
        return String(document[range])
    }

    /// The document with that section replaced by `section`, or `section` appended.
    public static func replacingSection(_ title: String, in document: String, with section: String) -> String {
        var document = document
        if let range = sectionRange(title, in: document) {
            document.replaceSubrange(range, with: section)
            return document
        }
        if !document.isEmpty && !document.hasSuffix("\n\n") { document += document.hasSuffix("\n") ? "\n" : "\n\n" }
        return document + section
    }

    private static func sectionRange(_ title: String, in document: String) -> Range<String.Index>? {
        let heading = "## \(title)\n"
        let start: String.Index
        if document.hasPrefix(heading) {
            start = document.startIndex
        } else if let found = document.range(of: "\n" + heading) {
            start = document.index(after: found.lowerBound)
        } else {
            return nil
        }
        let afterHeading = document.index(start, offsetBy: heading.count)
        let end = document.range(of: "\n## ", range: afterHeading..<document.endIndex).map {
            document.index(after: $0.lowerBound)
        }
        return start..<(end ?? document.endIndex)
    }
}
