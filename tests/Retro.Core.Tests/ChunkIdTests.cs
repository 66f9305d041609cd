using Retro.Core;

namespace Retro.Core.Tests;

public class ChunkIdTests
{
    [Fact]
    public void Same_document_and_ordinal_give_the_same_id()
    {
        ChunkId.From("https://example.com/a", 3).ShouldBe(ChunkId.From("https://example.com/a", 3));
    }

    [Fact]
    public void Different_document_or_ordinal_give_different_ids()
    {
        var ids = new HashSet<ChunkId>();
        foreach (var doc in new[] { "a", "b", "a#1", "", "ü" })
            for (int ordinal = 0; ordinal < 50; ordinal++)
                ids.Add(ChunkId.From(doc, ordinal)).ShouldBeTrue($"{doc}/{ordinal} collided");
        // "a#1" + ordinal 0 must differ from "a" + ordinal 10 even though both hash "a#1..." prefixes.
        ChunkId.From("a#1", 0).ShouldNotBe(ChunkId.From("a", 10));
    }

    [Fact]
    public void Ids_are_version_5_rfc_uuids()
    {
        string text = ChunkId.From("doc", 0).ToString();
        text[14].ShouldBe('5');
        "89ab".ShouldContain(text[19]);
    }

    [Fact]
    public void Id_format_is_frozen()
    {
        // Every store keys points by these ids: changing the derivation orphans every ingested corpus.
        // Value from Python's uuid.uuid5(UUID("6f1d8a52-3c4b-4e0f-9a7e-52b1c0d4e8a3"), "https://example.com/a#0").
        ChunkId.From("https://example.com/a", 0).ToString().ShouldBe("5566bc2d-b2cb-50c4-9398-1a233afffbbc");
        ChunkId.Namespace.ShouldBe(new Guid("6f1d8a52-3c4b-4e0f-9a7e-52b1c0d4e8a3"));
    }

    [Fact]
    public void Parse_round_trips()
    {
        var id = ChunkId.From("x", 7);
        ChunkId.Parse(id.ToString()).ShouldBe(id);
    }

    [Fact]
    public void Negative_ordinal_is_rejected()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => ChunkId.From("x", -1));
    }
}
