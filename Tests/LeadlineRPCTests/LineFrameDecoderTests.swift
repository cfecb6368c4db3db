import LeadlineRPC
import NIOCore
import NIOEmbedded
import Testing

/// The framer, through NIO's embedded channel: splits, `\r\n`, partial input, the limit.
@Suite struct LineFrameDecoderTests {
    func frames(_ chunks: [String], maxLength: Int = 64) throws -> [String] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(LineFrameDecoder(maxLength: maxLength)))
        for chunk in chunks {
            try channel.writeInbound(ByteBuffer(string: chunk))
        }
        var out: [String] = []
        while let frame = try channel.readInbound(as: LineFrame.self) {
            switch frame {
            case .line(let buffer): out.append(String(buffer: buffer))
            case .tooLong: out.append("<too long>")
            }
        }
        _ = try? channel.finish()
        return out
    }

    @Test func splitsOnNewlinesAndDropsCarriageReturns() throws {
        #expect(try frames(["a\nb\r\nc\n"]) == ["a", "b", "c"])
    }

    @Test func joinsLinesArrivingByteByByte() throws {
        let line = #"{"jsonrpc":"2.0","method":"service.ping","id":1}"# + "\n"
        #expect(try frames(line.map { String($0) }, maxLength: 1024) == [String(line.dropLast())])
    }

    @Test func keepsAnIncompleteTailForLater() throws {
        #expect(try frames(["one\ntw"]) == ["one"])
    }

    @Test func refusesALineOverTheLimitEvenBeforeItsNewline() throws {
        #expect(try frames([String(repeating: "x", count: 65)]) == ["<too long>"])
        #expect(try frames(["ok\n", String(repeating: "y", count: 100) + "\n", "after\n"]) == ["ok", "<too long>"])
    }

    @Test func acceptsALineExactlyAtTheLimit() throws {
        let exact = String(repeating: "z", count: 64)
        #expect(try frames([exact + "\n"]) == [exact])
    }
}
