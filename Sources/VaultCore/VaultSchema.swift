import LeadlineStorage

/// The vault's tables. Only ciphertexts and non-secret metadata are stored; `sealed` is
/// nonce || ciphertext || tag from `SecretCipher`. A secret keeps one row: an update replaces
/// the ciphertext (secure_delete overwrites the old one), so deleting the row removes its
/// whole history.
enum VaultSchema {
    static let migrations: [Storage.Migration] = [
        Storage.Migration("vault-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE keyring (
                        version INTEGER PRIMARY KEY,
                        wrappedKey BLOB NOT NULL,
                        createdAt TEXT NOT NULL,
                        encryptions INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE TABLE secrets (
                        name TEXT PRIMARY KEY,
                        version INTEGER NOT NULL,
                        kind TEXT NOT NULL,
                        readers TEXT NOT NULL,
                        expiresAt TEXT,
                        metadata TEXT,
                        createdAt TEXT NOT NULL,
                        updatedAt TEXT NOT NULL,
                        keyVersion INTEGER NOT NULL REFERENCES keyring(version),
                        sealed BLOB NOT NULL
                    );
                    CREATE INDEX secrets_by_key ON secrets(keyVersion);
                    """)
        }
    ]
}
