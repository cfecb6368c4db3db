import Foundation
import PackagePlugin

/// Embeds every Schemas/*.json file into the LeadlineSchemas module at build time, so
/// `rpc.discover` serves exactly what is in Schemas/ with no file to install or lose.
@main
struct EmbedSchemasPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let schemas = context.package.directoryURL.appending(path: "Schemas")
        let files = try FileManager.default.contentsOfDirectory(at: schemas, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSchemas.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) schemas from Schemas/",
                executable: try context.tool(named: "embed-schemas").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output])
        ]
    }
}
