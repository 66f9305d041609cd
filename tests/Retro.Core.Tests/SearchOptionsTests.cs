using Retro.Core;

namespace Retro.Core.Tests;

public class SearchOptionsTests
{
    [Fact]
    public void No_filter_accepts_everything()
    {
        var options = new SearchOptions();
        options.HasFilter.ShouldBeFalse();
        options.Accepts(TestChunks.Make("a", 0)).ShouldBeTrue();
    }

    [Fact]
    public void Exclude_document_rejects_only_that_document()
    {
        var options = new SearchOptions { ExcludeDocument = "a" };
        options.HasFilter.ShouldBeTrue();
        options.Accepts(TestChunks.Make("a", 0)).ShouldBeFalse();
        options.Accepts(TestChunks.Make("b", 0)).ShouldBeTrue();
    }

    [Fact]
    public void Only_documents_and_metadata_must_all_hold()
    {
        var options = new SearchOptions
        {
            OnlyDocuments = new HashSet<string> { "a", "b" },
            MetadataEquals = new Dictionary<string, string> { ["source"] = "foldoc" },
        };
        var foldoc = new Dictionary<string, string> { ["source"] = "foldoc" };
        options.Accepts(TestChunks.Make("a", 0, metadata: foldoc)).ShouldBeTrue();
        options.Accepts(TestChunks.Make("a", 0)).ShouldBeFalse();
        options.Accepts(TestChunks.Make("c", 0, metadata: foldoc)).ShouldBeFalse();
        options.Accepts(TestChunks.Make("b", 0, metadata: new Dictionary<string, string> { ["source"] = "jargon" })).ShouldBeFalse();
    }

    [Fact]
    public void Neighbour_tokens_are_chunk_then_continuation()
    {
        TestChunks.Make("a", 0).NeighbourTokens().ShouldBe([1, 2, 3, 4, 5]);
    }
}
