/// JSON Schema patterns are ECMA-262 regular expressions; NSRegularExpression speaks ICU, which
/// reads a few of the same spellings differently. Left as they are, `^[a-z]+$` would accept
/// "abc\n" (ICU's `$` also matches before a final line break) and `^\d+$` would accept "١٢٣"
/// (ICU's `\d` is any Unicode digit): text a schema means to refuse. ICU's `\s` also lacks
/// two of ECMA's white-space characters, U+000B and U+FEFF. This rewrites those
/// spellings into ICU ones with the ECMA meaning, so the regex engine and ``SimplePattern``
/// agree on every text.
enum ECMAPattern {
    /// `$` outside a class becomes `\z` (the very end); `\d`, `\D`, `\w` and `\W` become their
    /// ASCII classes, `\s` and `\S` gain U+000B and U+FEFF; a `[` inside a class is escaped.
    /// Every other escape and character is copied as it is.
    static func icu(_ pattern: String) -> String {
        var out = ""
        var inClass = false
        var characters = pattern.makeIterator()
        while let character = characters.next() {
            switch character {
            case "\\":
                guard let escaped = characters.next() else {
                    out.append("\\")
                    continue
                }
                out += translated(escaped, inClass: inClass) ?? "\\\(escaped)"
            case "[" where !inClass:
                inClass = true
                out.append(character)
            case "[":
                // A literal in an ECMA class; ICU would open a nested set.
                out += "\\["
            case "]" where inClass:
                inClass = false
                out.append(character)
            case "$" where !inClass:
                out += "\\z"
            default:
                out.append(character)
            }
        }
        return out
    }

    /// The ICU spelling of `\escaped`, or nil when ICU reads it as ECMA does. Inside a class only
    /// the positive shorthands can be spelled out; `[\D]`, `[\W]` and `[\S]` stay as written.
    private static func translated(_ escaped: Character, inClass: Bool) -> String? {
        switch (escaped, inClass) {
        case ("d", false): "[0-9]"
        case ("D", false): "[^0-9]"
        case ("w", false): "[A-Za-z0-9_]"
        case ("W", false): "[^A-Za-z0-9_]"
        case ("s", false): #"[\s\x0B\x{FEFF}]"#
        case ("S", false): #"[^\s\x0B\x{FEFF}]"#
        case ("d", true): "0-9"
        case ("s", true): #"\s\x0B\x{FEFF}"#
        case ("w", true): "A-Za-z0-9_"
        default: nil
        }
    }
}
