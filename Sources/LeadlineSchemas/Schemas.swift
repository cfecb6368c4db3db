/// The documents in Schemas/, compiled in: `<service>.openrpc.json`, `lead.schema.json`,
/// `config.schema.json`.
public enum Schemas {
    public static func text(named name: String) -> String? {
        EmbeddedSchemas.files[name]
    }

    public static func openRPC(service: String) -> String? {
        EmbeddedSchemas.files["\(service).openrpc.json"]
    }
}
