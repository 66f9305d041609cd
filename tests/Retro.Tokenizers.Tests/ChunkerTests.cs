using Retro.Core;
using Retro.Core.Options;

namespace Retro.Tokenizers.Tests;

public sealed class ChunkerTests(TrainedTokenizerFixture fixture) : IClassFixture<TrainedTokenizerFixture>
{
    private readonly Chunker _chunker = new(fixture.Tokenizer, new ChunkingOptions());

    [Fact]
    public void Chunks_Have64Tokens_AndContinuationOfTheNext64()
    {
        string text = TestData.AllTexts.First(t => fixture.Tokenizer.Encode(t).Length is > 300 and < 2000);
        int[] ids = fixture.Tokenizer.Encode(text);
        var meta = new Dictionary<string, string> { ["timestamp"] = "2019-04-25" };
        var chunks = _chunker.Split("doc-1", "https://example.com/a", text, meta);

        chunks.Count.ShouldBe((ids.Length + 63) / 64);
        for (int u = 0; u < chunks.Count; u++)
        {
            var c = chunks[u];
            c.Ordinal.ShouldBe(u);
            c.Id.ShouldBe(ChunkId.From("doc-1", u));
            c.DocumentId.ShouldBe("doc-1");
            c.Url.ShouldBe("https://example.com/a");
            c.Metadata["timestamp"].ShouldBe("2019-04-25");
            c.Tokens.ShouldBe(ids.Skip(u * 64).Take(64));
            c.ContinuationTokens.ShouldBe(ids.Skip(u * 64 + 64).Take(64));
            if (u < chunks.Count - 1) c.Tokens.Length.ShouldBe(64);
            if (u < chunks.Count - 2) c.ContinuationTokens.Length.ShouldBe(64);
        }
        chunks[^1].Tokens.Length.ShouldBe(ids.Length - (chunks.Count - 1) * 64);
        chunks[^1].ContinuationTokens.ShouldBeEmpty();
        chunks[^1].ContinuationText.ShouldBe("");
        string.Concat(chunks.Select(c => c.Text)).ShouldBe(text); // byte-level BPE covers every character
        for (int u = 0; u + 1 < chunks.Count; u++)
        {
            string expected = string.Concat(chunks.Skip(u + 1).Take(1).Select(c => c.Text));
            chunks[u].ContinuationText.ShouldBe(expected);
        }
        chunks[0].NeighbourTokens().ShouldBe(ids.Take(128));
    }

    [Fact]
    public void ChunkTexts_MatchTheirTokens_OnRealData()
    {
        foreach (string text in TestData.AllTexts.Take(200))
        {
            var chunks = _chunker.Split("d", "", text);
            string.Concat(chunks.Select(c => c.Text)).ShouldBe(text);
            foreach (var c in chunks)
            {
                string decoded = fixture.Tokenizer.Decode(c.Tokens);
                if (!decoded.Contains('\uFFFD')) decoded.ShouldBe(c.Text);
            }
        }
    }

    [Fact]
    public void Ids_AreDeterministic_AndEmptyDocumentsHaveNoChunks()
    {
        string text = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 20));
        var a = _chunker.Split("same", "", text);
        var b = _chunker.Split("same", "", text);
        a.Select(c => c.Id).ShouldBe(b.Select(c => c.Id));
        _chunker.Split("other", "", text)[0].Id.ShouldNotBe(a[0].Id);
        _chunker.Split("empty", "", "").ShouldBeEmpty();
    }

    [Fact]
    public void SmallSizes_AndWordPieceOffsets()
    {
        var vocab = new Dictionary<string, int>();
        foreach (string t in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "d", "e" }) vocab[t] = vocab.Count;
        var wordPiece = Tokenizer.CreateWordPiece(vocab);
        var chunker = new Chunker(wordPiece, new ChunkingOptions { ChunkTokens = 2, ContinuationTokens = 1 });
        var chunks = chunker.Split("w", "", "  a b\tc   d e  ");
        chunks.Select(c => c.Text).ShouldBe(["a b\t", "c   d ", "e"]);
        chunks.Select(c => c.ContinuationText).ShouldBe(["c   ", "e", ""]); // up to the next token, like chunk texts
        chunks.Select(c => c.Tokens.Length).ShouldBe([2, 2, 1]);
        chunks.Select(c => c.ContinuationTokens.Length).ShouldBe([1, 1, 0]);
    }

    [Fact]
    public void DocumentIdFor_UrlElseContentHash()
    {
        Chunker.DocumentIdFor("https://x", "t").ShouldBe("https://x");
        Chunker.DocumentIdFor("", "abc").ShouldBe("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
