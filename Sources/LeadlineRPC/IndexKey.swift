/// An array element's place in a coding path, spelled "Index 3" as Foundation's coders spell
/// it, so errors name the same element whichever coder produced them.
struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}
