import Foundation

// Writes a Swift file holding each given JSON file as a raw string literal, keyed by file name.
let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: embed-schemas OUTPUT.swift FILE.json...\n".utf8))
    exit(2)
}
var source = "// Generated from Schemas/ at build time by embed-schemas. Do not edit.\n"
source += "enum EmbeddedSchemas {\n    static let files: [String: String] = [\n"
for path in arguments.dropFirst() {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let name = (path as NSString).lastPathComponent
    var fence = "#"
    while text.contains("\"\(fence)") { fence += "#" }
    source += "        \"\(name)\": \(fence)\"\"\"\n\(text)\n\"\"\"\(fence),\n"
}
if arguments.count == 1 { source += "        :\n" }
source += "    ]\n}\n"
try source.write(toFile: output, atomically: true, encoding: .utf8)
