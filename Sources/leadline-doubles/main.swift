import Foundation
import LeadlineTestDoubles

// Vendor doubles for `make run` and the bench; each family parses its own flags.
do {
    let graph = try await GraphDoubleOptions.start(arguments: CommandLine.arguments)
    let crm = try await CRMDoubleOptions.start(arguments: CommandLine.arguments)
    withExtendedLifetime((graph, crm)) {}
    while true { try await Task.sleep(for: .seconds(3600)) }
} catch {
    FileHandle.standardError.write(Data("leadline-doubles: \(error)\n".utf8))
    exit(2)
}
