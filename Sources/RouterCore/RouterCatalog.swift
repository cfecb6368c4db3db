import Foundation
import GRDB
import LeadlineRPC
import LeadlineRuntime
import LeadlineStorage
import NIOConcurrencyHelpers

/// Destinations and routes: validated when put, stored as their JSON documents, every change an
/// audit event in the same transaction.
struct RouterCatalog: Sendable {
    let storage: Storage
    let spool: AuditSpool
    let routeCache: RouteCache

    static func defaultBaseURL(_ kind: DestinationKind) -> String? {
        switch kind {
        case .hubspot: return "https://api.hubapi.com"
        case .pipedrive: return "https://api.pipedrive.com"
        case .salesforce: return "https://login.salesforce.com"
        case .webhook: return nil
        }
    }

    func putDestination(_ params: PutDestination.Params, actor: String) async throws -> Destination {
        let options = params.options ?? DestinationOptions()
        switch params.kind {
        case .webhook:
            if params.baseUrl != nil {
                throw RPCError.validationFailed("baseUrl is not used by webhook destinations; set options.url")
            }
            if options.url == nil {
                throw RPCError.validationFailed("options.url is required for webhook destinations")
            }
        case .hubspot, .salesforce, .pipedrive:
            if options.url != nil || options.signingSecret != nil {
                throw RPCError.validationFailed(
                    "options.url and options.signingSecret are for webhook destinations only")
            }
        }
        if params.kind != .salesforce && (options.apiVersion != nil || options.externalIdField != nil) {
            throw RPCError.validationFailed(
                "options.apiVersion and options.externalIdField are for salesforce destinations only")
        }
        if params.kind != .pipedrive && options.ownerId != nil {
            throw RPCError.validationFailed("options.ownerId is for pipedrive destinations only")
        }
        let now = RouterTime.iso(RouterTime.now())
        return try await storage.groupedWrite { db in
            let existing = try Self.destination(params.id, in: db)
            // A kind change must keep every route that names the destination deliverable.
            for route in try Self.routes(in: db) where route.destinationId == params.id {
                do {
                    try FieldMap.validate(route.fieldMap, for: params.kind)
                } catch let error as RPCError {
                    throw RPCError.validationFailed("route \(route.id): \(error.detail)")
                }
            }
            let destination = Destination(
                id: params.id, kind: params.kind, baseUrl: params.baseUrl ?? Self.defaultBaseURL(params.kind),
                credential: params.credential, options: options, createdAt: existing?.createdAt ?? now, updatedAt: now)
            try db.execute(
                sql: "INSERT OR REPLACE INTO destinations (id, body) VALUES (?, ?)",
                arguments: [params.id, try Self.text(destination)])
            try spool.record(
                [
                    AuditEvent(
                        action: "router.putDestination", subject: params.id, outcome: "ok",
                        details: [
                            "kind": .string(params.kind.rawValue), "by": .string(actor),
                            "created": .bool(existing == nil),
                        ])
                ], in: db)
            return destination
        }
    }

    func listDestinations() async throws -> [Destination] {
        try await storage.read { db in
            try String.fetchAll(db, sql: "SELECT body FROM destinations ORDER BY id").map {
                try JSONCoding.decode(Destination.self, from: $0.utf8)
            }
        }
    }

    func destination(_ id: String) async throws -> Destination? {
        try await storage.read { db in try Self.destination(id, in: db) }
    }

    func deleteDestination(_ id: String, actor: String) async throws {
        try await storage.groupedWrite { db in
            guard try Self.destination(id, in: db) != nil else { throw RPCError.notFound("no destination '\(id)'") }
            let naming = try String.fetchAll(
                db, sql: "SELECT id FROM routes WHERE destination_id = ? ORDER BY id", arguments: [id])
            if !naming.isEmpty {
                throw RPCError.conflict(
                    "destination '\(id)' is used by route(s) \(naming.prefix(5).joined(separator: ", ")); delete or re-point them first"
                )
            }
            let now = RouterTime.now()
            try db.execute(
                sql: """
                    UPDATE deliveries SET state = 'dead', last_error = 'destination deleted', next_attempt_at = NULL,
                    updated_at = ? WHERE destination_id = ? AND state IN ('pending', 'retrying')
                    """, arguments: [now, id])
            let abandoned = db.changesCount
            try db.execute(sql: "DELETE FROM destinations WHERE id = ?", arguments: [id])
            try spool.record(
                [
                    AuditEvent(
                        action: "router.deleteDestination", subject: id, outcome: "ok",
                        details: ["by": .string(actor), "deliveriesAbandoned": .int(Int64(abandoned))])
                ], in: db)
        }
    }

    func putRoute(_ params: PutRoute.Params, actor: String) async throws -> Route {
        let now = RouterTime.iso(RouterTime.now())
        let routeCache = self.routeCache
        defer { routeCache.invalidate() }
        return try await storage.groupedWrite { db in
            routeCache.invalidate()
            guard let destination = try Self.destination(params.destinationId, in: db) else {
                throw RPCError.notFound("no destination '\(params.destinationId)'")
            }
            try FieldMap.validate(params.fieldMap, for: destination.kind)
            let existing = try String.fetchOne(db, sql: "SELECT body FROM routes WHERE id = ?", arguments: [params.id])
                .map { try JSONCoding.decode(Route.self, from: $0.utf8) }
            let route = Route(
                id: params.id, match: params.match, destinationId: params.destinationId, fieldMap: params.fieldMap,
                enabled: params.enabled ?? true, createdAt: existing?.createdAt ?? now, updatedAt: now)
            try db.execute(
                sql: "INSERT OR REPLACE INTO routes (id, destination_id, body) VALUES (?, ?, ?)",
                arguments: [route.id, route.destinationId, try Self.text(route)])
            try spool.record(
                [
                    AuditEvent(
                        action: "router.putRoute", subject: route.id, outcome: "ok",
                        details: [
                            "destinationId": .string(route.destinationId), "enabled": .bool(route.enabled),
                            "by": .string(actor),
                        ])
                ], in: db)
            return route
        }
    }

    func listRoutes() async throws -> [Route] {
        try await storage.read { db in try Self.routes(in: db) }
    }

    func deleteRoute(_ id: String, actor: String) async throws {
        let routeCache = self.routeCache
        defer { routeCache.invalidate() }
        try await storage.groupedWrite { db in
            routeCache.invalidate()
            try db.execute(sql: "DELETE FROM routes WHERE id = ?", arguments: [id])
            guard db.changesCount > 0 else { throw RPCError.notFound("no route '\(id)'") }
            try spool.record(
                [AuditEvent(action: "router.deleteRoute", subject: id, outcome: "ok", details: ["by": .string(actor)])],
                in: db)
        }
    }

    static func destination(_ id: String, in db: Database) throws -> Destination? {
        guard
            let body = try String.fetchOne(
                db.cachedStatement(sql: "SELECT body FROM destinations WHERE id = ?"), arguments: [id])
        else {
            decodedDestinations.withLockedValue { $0[id] = nil }
            return nil
        }
        if let known = decodedDestinations.withLockedValue({ $0[id] }), known.body == body { return known.destination }
        let destination = try JSONCoding.decode(Destination.self, from: body.utf8)
        decodedDestinations.withLockedValue { $0[id] = (body, destination) }
        return destination
    }

    /// Destinations as last decoded, with the stored text they came from: the worker reads a
    /// destination's row on every claim, and decodes it again only when that text changed.
    private static let decodedDestinations = NIOLockedValueBox([String: (body: String, destination: Destination)]())

    static func routes(in db: Database) throws -> [Route] {
        try String.fetchAll(db, sql: "SELECT body FROM routes ORDER BY id").map {
            try JSONCoding.decode(Route.self, from: $0.utf8)
        }
    }

    static func text(_ value: some Encodable) throws -> String {
        String(decoding: try JSONCoding.encode(value), as: UTF8.self)
    }
}

/// Enabled routes, parsed once per change instead of once per lead, each with its field map
/// already in the text form a delivery row stores. Writers invalidate it inside their
/// transaction and again after the commit, so a lead enqueued after a route change sees it.
/// Each load gets a new generation: work planned outside a transaction from `cached()` is
/// still valid inside it exactly when the generation there is the same.
final class RouteCache: Sendable {
    struct Entry: Sendable {
        var route: Route
        var fieldMapText: String
    }

    struct Snapshot: Sendable {
        var generation: Int
        var entries: [Entry]
    }

    private let state = NIOLockedValueBox<(generation: Int, snapshot: Snapshot?)>((0, nil))

    func invalidate() { state.withLockedValue { $0.snapshot = nil } }

    /// The routes as loaded last, if no change invalidated them since; nil otherwise.
    func cached() -> Snapshot? { state.withLockedValue { $0.snapshot } }

    func routes(in db: Database) throws -> Snapshot {
        if let cached = cached() { return cached }
        let entries = try RouterCatalog.routes(in: db).map {
            Entry(route: $0, fieldMapText: try RouterCatalog.text($0.fieldMap))
        }
        return state.withLockedValue { state in
            state.generation += 1
            let snapshot = Snapshot(generation: state.generation, entries: entries)
            state.snapshot = snapshot
            return snapshot
        }
    }
}
