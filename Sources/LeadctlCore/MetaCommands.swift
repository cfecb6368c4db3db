import ArgumentParser
import Crypto
import Foundation
import LeadlineHTTP
import LeadlineRPC

struct MetaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meta", abstract: "Connect Facebook/Instagram pages: tokens, webhook subscriptions.",
        subcommands: [Connect.self, Disconnect.self, Pages.self])

    /// Graph API calls leadctl makes itself, with appsecret_proof on every token-bearing call.
    struct Graph {
        let connection: Connection
        let appSecret: String
        let client = HTTPClient()

        var target: HTTPTarget {
            HTTPTarget(baseURL: connection.config.meta.graphBaseURL + "/" + connection.config.meta.graphVersion)
        }

        func proof(_ token: String) -> String {
            Hex.encode(
                HMAC<SHA256>.authenticationCode(for: Data(token.utf8), using: SymmetricKey(data: Data(appSecret.utf8))))
        }

        func call(_ method: String, _ path: String, query: [(String, String)]) async throws -> JSONValue {
            let response: HTTPResponse
            do {
                response = try await client.send(HTTPRequest(method: method, url: target.url(path, query: query)))
            } catch {
                throw LeadctlFailure.unreachable("cannot reach the Graph API at \(target.baseURL): \(error)")
            }
            let body = (try? JSONCoding.parse(response.body)) ?? .null
            guard (200..<300).contains(response.status) else {
                let message = body["error"]?["message"]?.stringValue ?? "HTTP \(response.status)"
                throw LeadctlFailure.failed("Graph API \(method) \(path): \(message)")
            }
            return body
        }

        static func load(_ connection: Connection, secretFile: String?) async throws -> Graph {
            if let secretFile {
                guard let data = FileManager.default.contents(atPath: secretFile) else {
                    throw LeadctlFailure.usage("cannot read \(secretFile)")
                }
                return Graph(
                    connection: connection,
                    appSecret: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            }
            let secret = try await connection.call(
                "vault", "vault.getSecret", ["name": .string(connection.config.meta.appSecret)])
            return Graph(connection: connection, appSecret: secret["value"]?.stringValue ?? "")
        }
    }

    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "connect",
            abstract: "Exchange a user token, store every page token in the vault, subscribe pages to leadgen.",
            discussion: """
                Reads a short-lived user access token (from the Graph API Explorer or your Facebook
                Login flow, with pages_manage_metadata, pages_show_list, leads_retrieval) from standard
                input. Needs [meta] app_id in the config and the app secret (vault secret
                [meta] app_secret, or --app-secret-file).
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Read the app secret from this file instead of the vault.") var appSecretFile: String?

        func run() async throws {
            let connection = try global.connection()
            let appID = connection.config.meta.appID
            guard !appID.isEmpty else {
                throw LeadctlFailure.usage("set [meta] app_id in \(connection.config.file ?? "the config")")
            }
            let userToken = try SecretInput.read(prompt: "short-lived user access token: ")
            let graph = try await Graph.load(connection, secretFile: appSecretFile)
            let exchanged = try await graph.call(
                "GET", "/oauth/access_token",
                query: [
                    ("grant_type", "fb_exchange_token"), ("client_id", appID), ("client_secret", graph.appSecret),
                    ("fb_exchange_token", userToken),
                ])
            guard let longLived = exchanged["access_token"]?.stringValue else {
                throw LeadctlFailure.failed("the token exchange returned no access_token")
            }
            let accounts = try await graph.call(
                "GET", "/me/accounts",
                query: [
                    ("fields", "id,name,access_token"), ("access_token", longLived),
                    ("appsecret_proof", graph.proof(longLived)),
                ])
            var rows: [[String]] = []
            var report: [JSONValue] = []
            for page in accounts["data"]?.arrayValue ?? [] {
                guard let id = page["id"]?.stringValue, let token = page["access_token"]?.stringValue else { continue }
                let name = page["name"]?.stringValue ?? ""
                let secretName = connection.config.meta.pageTokenPrefix + id
                _ = try await connection.call(
                    "vault", "vault.putSecret",
                    [
                        "name": .string(secretName), "value": .string(token), "readers": ["ingest"],
                        "kind": "meta-page-token",
                        "metadata": ["pageName": .string(name)],
                    ])
                let subscribed = try await graph.call(
                    "POST", "/\(id)/subscribed_apps",
                    query: [
                        ("subscribed_fields", "leadgen"), ("access_token", token),
                        ("appsecret_proof", graph.proof(token)),
                    ])
                let ok = subscribed["success"] == true
                rows.append([id, name, secretName, ok ? "subscribed" : "NOT subscribed"])
                report.append([
                    "pageId": .string(id), "name": .string(name), "secret": .string(secretName),
                    "subscribed": .bool(ok),
                ])
            }
            if global.json { return Output.printJSON(["pages": .array(report)]) }
            if rows.isEmpty { print("the token has no pages (does the user manage any, with pages_show_list?)") }
            print(Output.table(["PAGE", "NAME", "VAULT SECRET", "LEADGEN WEBHOOK"], rows))
        }
    }

    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "disconnect",
            abstract: "Unsubscribe a page, revoke its token with Meta, delete it from the vault.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Page id.") var page: String
        @Option(help: "Read the app secret from this file instead of the vault.") var appSecretFile: String?

        func run() async throws {
            let connection = try global.connection()
            let secretName = connection.config.meta.pageTokenPrefix + page
            let graph = try await Graph.load(connection, secretFile: appSecretFile)
            let stored = try await connection.call("vault", "vault.getSecret", ["name": .string(secretName)])
            guard let token = stored["value"]?.stringValue else {
                throw LeadctlFailure.failed("no token stored for page \(page)")
            }
            let proof = graph.proof(token)
            _ = try await graph.call(
                "DELETE", "/\(page)/subscribed_apps", query: [("access_token", token), ("appsecret_proof", proof)])
            _ = try await graph.call(
                "DELETE", "/me/permissions", query: [("access_token", token), ("appsecret_proof", proof)])
            _ = try await connection.call("vault", "vault.deleteSecret", ["name": .string(secretName)])
            if global.json { return Output.printJSON(["pageId": .string(page), "disconnected": true]) }
            print("page \(page): unsubscribed, token revoked with Meta, \(secretName) deleted from the vault")
        }
    }

    struct Pages: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pages", abstract: "Connected pages and the health of their tokens.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let connection = try global.connection()
            let prefix = connection.config.meta.pageTokenPrefix
            let secrets = try await connection.call("vault", "vault.listSecrets", [:])
            let stats = try? await connection.call("ingest", "ingest.stats", [:])
            var attention: [String: String] = [:]
            for page in stats?["pagesNeedingAttention"]?.arrayValue ?? [] {
                if let id = page["pageId"]?.stringValue {
                    attention[id] = page["reason"]?.stringValue ?? "needs attention"
                }
            }
            var rows: [[String]] = []
            var report: [JSONValue] = []
            for item in secrets["items"]?.arrayValue ?? [] {
                guard let name = item["name"]?.stringValue, name.hasPrefix(prefix) else { continue }
                let id = String(name.dropFirst(prefix.count))
                let health = attention[id] ?? (isExpired(item["expiresAt"]?.stringValue) ? "token expired" : "ok")
                rows.append([id, Output.text(item["metadata"]?["pageName"]), Output.text(item["expiresAt"]), health])
                report.append([
                    "pageId": .string(id), "expiresAt": item["expiresAt"] ?? .null, "health": .string(health),
                ])
            }
            if global.json { return Output.printJSON(["pages": .array(report)]) }
            print(Output.table(["PAGE", "NAME", "TOKEN EXPIRES", "HEALTH"], rows))
        }

        func isExpired(_ time: String?) -> Bool {
            guard let time, let date = try? Date(time, strategy: .iso8601) else { return false }
            return date < Date()
        }
    }
}
