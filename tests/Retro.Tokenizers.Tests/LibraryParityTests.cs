using Microsoft.ML.Tokenizers;
using Retro.Tokenizers.Training;

namespace Retro.Tokenizers.Tests;

/// <summary>
/// Microsoft.ML.Tokenizers as the parity oracle of our encoders (ours serve: ≥ 1.5× faster at equal output, see
/// tests/Retro.Benchmarks/README.md). Byte-level BPE: the library built from the same vocabulary and meres
/// (<see cref="MLTokenizers"/>) gives the same ids on every text of ../shared/data, the sample corpus and the hostile
/// strings. WordPiece: the same ids word by word, on text cleaned of what the library keeps and BERT drops, with accents
/// kept (the library's accent stripping is a no-op under invariant globalization), special tokens aside (the library
/// lower-cases before it looks for them, so "[CLS]" in a text is not [CLS] there).
/// </summary>
public sealed class LibraryParityTests(TrainedTokenizerFixture trained) : IClassFixture<TrainedTokenizerFixture>
{
    private static readonly Lazy<IReadOnlyList<string>> Sample = new(() =>
        [.. CorpusReader.ReadDocuments(Path.Combine(TestData.RepoRoot, "samples", "corpus", "sample.jsonl.gz"))]);

    private static Tokenizer Shipped(string model) => TokenizerLoader.FromFile(Path.Combine(TestData.RepoRoot, "models", model, "tokenizer.json"));

    private static void SameIds(Tokenizer ours, Microsoft.ML.Tokenizers.Tokenizer library, IEnumerable<string> texts, string what)
    {
        int count = 0;
        foreach (string text in texts)
        {
            var expected = library.EncodeToIds(text);
            var actual = ours.Encode(text);
            if (!actual.AsSpan().SequenceEqual(expected.ToArray()))
            {
                int at = 0;
                while (at < actual.Length && at < expected.Count && actual[at] == expected[at]) at++;
                throw new Xunit.Sdk.XunitException($"{what}: text {count} differs at id {at}: ours [{string.Join(", ", actual.Skip(at).Take(6))}], " +
                    $"library [{string.Join(", ", expected.Skip(at).Take(6))}]; text starts \"{text[..Math.Min(80, text.Length)]}\"");
            }
            count++;
        }
        count.ShouldBeGreaterThan(0, what);
    }

    [Theory]
    [InlineData("retro")]
    [InlineData("encoder")]
    public void ShippedBpe_SameIdsAsTheLibrary_OnAllData(string model)
    {
        var ours = Shipped(model);
        var library = MLTokenizers.Create(ours);
        SameIds(ours, library, TestData.AllTexts, $"{model}, ../shared/data");
        SameIds(ours, library, Sample.Value, $"{model}, sample corpus");
        SameIds(ours, library, TestData.Hostile, $"{model}, hostile strings");
    }

    [Fact]
    public void TrainedBpe_SameIdsAsTheLibrary()
    {
        var library = MLTokenizers.Create(trained.Tokenizer);
        SameIds(trained.Tokenizer, library, TestData.Hostile, "trained, hostile strings");
        SameIds(trained.Tokenizer, library, TestData.AllTexts.Take(500), "trained, ../shared/data");
        library.EncodeToIds("<|endoftext|>x<pad>").ShouldBe(trained.Tokenizer.Encode("<|endoftext|>x<pad>"));
    }

    [Fact]
    public void WordPiece_SameIdsAsTheLibrary_WordByWord()
    {
        var ours = Tokenizer.CreateWordPiece(DerivedWordPiece.Vocabulary(Shipped("retro")), lowercase: true, stripAccents: false);
        var library = MLTokenizers.Create(ours);
        var words = new HashSet<string>(StringComparer.Ordinal);
        foreach (string text in TestData.AllTexts.Concat(Sample.Value).Concat(TestData.Hostile))
        {
            foreach (string word in DerivedWordPiece.Clean(text).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            {
                if (!ours.AddedTokens.Any(t => word.Contains(t.Content, StringComparison.Ordinal))) words.Add(word);
            }
        }
        words.Count.ShouldBeGreaterThan(100_000);
        SameIds(ours, library, words, "WordPiece, distinct words");
        ours.Encode("naïve $35+tax, 東京").Select(id => ours.IdToToken(id)).ShouldContain("$", "BERT isolates ASCII symbols: the library's own pre-tokenizer would drop them");
    }

    [Fact]
    public void Unsupported_components_are_refused()
    {
        var prefixed = Tokenizer.CreateByteLevelBpe(new Dictionary<string, int> { ["a"] = 0 }, [], addPrefixSpace: true);
        Should.Throw<NotSupportedException>(() => MLTokenizers.Create(prefixed));
    }
}
