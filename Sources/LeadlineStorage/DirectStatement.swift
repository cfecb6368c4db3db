import GRDB
import GRDBSQLite

/// A value bound straight to SQLite by `Statement.executeDirect`.
public enum DirectValue: Sendable {
    case text(String?)
    case integer(Int64?)
}

extension Statement {
    /// Runs this statement once with `values` bound through SQLite's C API, and returns the
    /// number of rows it changed.
    ///
    /// For the few writes every acknowledgement waits on, on the one writer: GRDB's
    /// StatementArguments boxes every value and checks the set on each call, and that cost more
    /// than the insert itself.
    ///
    /// GRDB is bypassed: it keeps believing the arguments it bound last are bound, so a statement
    /// run this way must never also be run by GRDB without arguments (`execute()`, a fetch): give
    /// it SQL of its own. Nor does GRDB see the statement run or fail; a caller inside a
    /// transaction must let an error end it, as GRDB's own statements do.
    public func executeDirect(_ values: [DirectValue], in db: Database) throws -> Int {
        let statement = sqliteStatement
        guard values.count == Int(sqlite3_bind_parameter_count(statement)) else {
            throw DatabaseError(
                resultCode: .SQLITE_MISUSE,
                message: "\(values.count) values for \(sqlite3_bind_parameter_count(statement)) parameters", sql: sql)
        }
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (offset, value) in values.enumerated() {
            let index = CInt(offset + 1)
            let code: CInt
            switch value {
            case .text(let text?): code = sqlite3_bind_text(statement, index, text, -1, transient)
            case .integer(let number?): code = sqlite3_bind_int64(statement, index, number)
            case .text(nil), .integer(nil): code = sqlite3_bind_null(statement, index)
            }
            guard code == SQLITE_OK else { throw failure(code, db) }
        }
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw failure(code, db) }
        return Int(sqlite3_changes(db.sqliteConnection))
    }

    private func failure(_ code: CInt, _ db: Database) -> DatabaseError {
        DatabaseError(
            resultCode: ResultCode(rawValue: code),
            message: db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) },
            sql: sql)
    }
}

/// SQLite copies the bytes before the bind returns, so the Swift string may go away.
private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
