import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The kernel's word on who is at the other end of a Unix socket (SO_PEERCRED).
public struct PeerCredentials: Sendable, Hashable, Codable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32

    public init(uid: UInt32, gid: UInt32, pid: Int32) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }

    /// This process's own credentials: what a peer of ours would see.
    public static var current: PeerCredentials {
        PeerCredentials(uid: getuid(), gid: getgid(), pid: getpid())
    }
}

/// An authenticated caller: credentials from the kernel, roles from `[access]`.
/// Nothing in it comes from what the client sent.
public struct Caller: Sendable, Hashable {
    public var credentials: PeerCredentials
    public var userName: String
    public var isAdmin: Bool
    public var isSubmitter: Bool
    /// Service names this uid runs as (in dev all four may share one user).
    public var services: Set<String>

    public init(credentials: PeerCredentials, userName: String, isAdmin: Bool, isSubmitter: Bool, services: Set<String>)
    {
        self.credentials = credentials
        self.userName = userName
        self.isAdmin = isAdmin
        self.isSubmitter = isSubmitter
        self.services = services
    }

    /// How the caller is named in audit events: a service name when it is one, else the user.
    public var actor: String {
        if services.count == 1, let name = services.first { return name }
        return "uid:\(credentials.uid)(\(userName))"
    }
}

/// `[access]` from the config: who is an admin, a submitter, and which user each daemon runs as.
public struct AccessPolicy: Sendable, Hashable {
    public var admins: [String]
    public var submitters: [String]
    /// service name -> Unix user name.
    public var services: [String: String]

    public init(admins: [String] = ["root"], submitters: [String] = [], services: [String: String] = [:]) {
        self.admins = admins
        self.submitters = submitters
        self.services = services
    }

    public func caller(for credentials: PeerCredentials) -> Caller {
        let account = UserAccount.lookup(uid: credentials.uid)
        let name = account?.name ?? "#\(credentials.uid)"
        let groups = account.map { UserAccount.groupNames(user: $0.name, primaryGID: $0.gid) } ?? []
        func matches(_ entries: [String]) -> Bool {
            entries.contains { entry in
                if entry.hasPrefix("@") { return groups.contains(String(entry.dropFirst())) }
                if entry.hasPrefix("#"), let uid = UInt32(entry.dropFirst()) { return uid == credentials.uid }
                return entry == name
            }
        }
        let services = Set(self.services.compactMap { service, user in user == name ? service : nil })
        return Caller(
            credentials: credentials, userName: name, isAdmin: matches(admins), isSubmitter: matches(submitters),
            services: services)
    }
}

/// The password and group databases, through the reentrant libc calls.
public enum UserAccount {
    public struct Entry: Sendable {
        public var name: String
        public var uid: UInt32
        public var gid: UInt32
    }

    public static func lookup(uid: UInt32) -> Entry? {
        var record = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &record, &buffer, buffer.count, &result) == 0, result != nil, let name = record.pw_name
        else { return nil }
        return Entry(name: String(cString: name), uid: record.pw_uid, gid: record.pw_gid)
    }

    public static func lookup(name: String) -> Entry? {
        var record = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwnam_r(name, &record, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return Entry(name: name, uid: record.pw_uid, gid: record.pw_gid)
    }

    public static func groupNames(user: String, primaryGID: UInt32) -> Set<String> {
        var count: Int32 = 64
        var gids = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user, primaryGID, &gids, &count) < 0 {
            gids = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(user, primaryGID, &gids, &count)
        }
        var names = Set<String>()
        for gid in gids.prefix(Int(max(count, 0))) {
            var group = Glibc.group()
            var result: UnsafeMutablePointer<Glibc.group>?
            var buffer = [CChar](repeating: 0, count: 16384)
            if getgrgid_r(gid, &group, &buffer, buffer.count, &result) == 0, result != nil, let name = group.gr_name {
                names.insert(String(cString: name))
            }
        }
        return names
    }
}
