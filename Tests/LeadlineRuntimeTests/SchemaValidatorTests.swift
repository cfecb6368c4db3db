import LeadlineRPC
import LeadlineRuntime
import Testing

/// The runtime's params check, on the real embedded documents.
@Suite struct SchemaValidatorTests {
    @Test(arguments: ["vault", "ingest", "router", "audit"])
    func everyDocumentIsEmbeddedAndDescribesTheCommonMethods(service: String) throws {
        let schema = try OpenRPCSchema(service: service)
        for method in ["rpc.discover", "service.ping", "service.info", "service.setLogLevel", "service.metrics"] {
            #expect(schema.hasMethod(method), "\(service) lacks \(method)")
        }
    }

    @Test func unknownAndMissingParamsAreNamed() throws {
        let schema = try OpenRPCSchema(service: "vault")
        let unknown = schema.checkParams(method: "service.setLogLevel", params: ["level": "info", "colour": "red"])
        #expect(unknown?.detail.contains("colour") == true)
        let missing = schema.checkParams(method: "service.setLogLevel", params: [:])
        #expect(missing?.detail.contains("level") == true)
        #expect(schema.checkParams(method: "service.setLogLevel", params: ["level": "debug"]) == nil)
    }

    @Test func errorsNeverQuoteTheValue() throws {
        let schema = try OpenRPCSchema(service: "vault")
        let problem = schema.checkParams(method: "service.setLogLevel", params: ["level": "hunter2-secret"])
        #expect(problem != nil)
        #expect(problem?.detail.contains("hunter2") == false)
    }

    @Test func keywordsBehaveAsDraft07Says() {
        let validator = SchemaValidator(root: [:])
        let schema: JSONValue = [
            "type": "object", "required": ["n"], "additionalProperties": false,
            "properties": [
                "n": ["type": "integer", "minimum": 1, "maximum": 10],
                "tags": ["type": "array", "items": ["type": "string", "pattern": "^[a-z]+$"], "uniqueItems": true],
                "at": ["type": "string", "format": "date-time"],
            ],
        ]
        #expect(validator.validate(["n": 5], against: schema) == nil)
        #expect(validator.validate(["n": 0], against: schema) != nil)
        #expect(validator.validate(["n": 5.5], against: schema) != nil)
        #expect(validator.validate(["n": 5, "tags": ["a", "a"]], against: schema) != nil)
        #expect(validator.validate(["n": 5, "tags": ["A"]], against: schema) != nil)
        #expect(validator.validate(["n": 5, "at": "yesterday"], against: schema) != nil)
        #expect(validator.validate(["n": 5, "at": "2026-12-01T10:00:00Z"], against: schema) == nil)
        #expect(validator.validate(["n": 5, "x": 1], against: schema) != nil)
    }

    /// Lengths are in code points: "é" written as e and a combining accent is two, one flag
    /// emoji is two regional indicators, though each is one Character to Swift.
    @Test func stringLengthsCountCodePoints() {
        let validator = SchemaValidator(root: [:])
        let twoAtMost: JSONValue = ["type": "string", "maxLength": 2]
        let threeAtLeast: JSONValue = ["type": "string", "minLength": 3]
        #expect(validator.validate("ab", against: twoAtMost) == nil)
        #expect(validator.validate("e\u{301}e\u{301}", against: twoAtMost) != nil)
        #expect(validator.validate("🇫🇷🇩🇪", against: twoAtMost) != nil)
        #expect(validator.validate("e\u{301}x", against: threeAtLeast) == nil)
        #expect(validator.validate("🇫🇷", against: threeAtLeast) != nil)
    }

    @Test func membersThatGoTogetherAreRequiredTogether() {
        let validator = SchemaValidator(root: [:])
        let schema: JSONValue = [
            "type": "object",
            "properties": ["spoolId": ["type": "string"], "spoolSeq": ["type": "integer"]],
            "dependencies": ["spoolId": ["spoolSeq"], "spoolSeq": ["spoolId"]],
        ]
        #expect(validator.validate([:], against: schema) == nil)
        #expect(validator.validate(["spoolId": "a", "spoolSeq": 1], against: schema) == nil)
        let problem = validator.validate(["spoolId": "a"], against: schema)
        #expect(problem?.contains("spoolSeq") == true)
        #expect(validator.validate(["spoolSeq": 1], against: schema) != nil)
    }

    @Test func theMemberFirstByNameAnswersWhateverTheDictionaryOrder() {
        let validator = SchemaValidator(root: [:])
        let schema = validator.compile([
            "type": "object", "additionalProperties": ["type": "integer"],
        ])
        let names = (0..<40).map { "m\($0)" }
        var value: [String: JSONValue] = [:]
        for name in names { value[name] = "not a number" }
        #expect(schema.validate(.object(value)) == "param 'm0' must be an integer, not string")
        value["m0"] = 1
        #expect(schema.validate(.object(value)) == "param 'm1' must be an integer, not string")
    }

    @Test func referencesResolveOnceAndMayReferToThemselves() {
        let root: JSONValue = [
            "definitions": [
                "tree": [
                    "type": "object", "required": ["name"],
                    "properties": [
                        "name": ["type": "string"],
                        "children": ["type": "array", "items": ["$ref": "#/definitions/tree"]],
                    ],
                ]
            ]
        ]
        let schema = SchemaValidator(root: root).compile(["$ref": "#/definitions/tree"])
        #expect(schema.validate(["name": "a", "children": [["name": "b", "children": [["name": "c"]]]]]) == nil)
        #expect(
            schema.validate(["name": "a", "children": [["name": "b", "children": [["name": 3]]]]])
                == "param 'children[0].children[0].name' must be a string, not integer")
        #expect(
            SchemaValidator(root: root).validate(1, against: ["$ref": "#/nowhere"])
                == "the value: unresolvable schema reference")
    }
}
