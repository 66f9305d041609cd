using System.Text.Json;
using Retro.Core.Options;
using Retro.Core.Ranking;

namespace Retro.Core.Tests;

/// <summary>The learned ranker: the same features and scores as its reference (fit_ranker.py), its file's checks, and its place in the retriever.</summary>
public sealed class LexicalRankerTests
{
    private static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Retro.sln above {AppContext.BaseDirectory}");
    }

    private static string SpecJson(double[] weights, int window = 12) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["format"] = "retro-ranker",
        ["format_version"] = 1,
        ["features"] = RankerSpec.FeatureNames,
        ["weights"] = weights,
        ["window"] = window,
        ["rank_k"] = 10,
        ["stop_words"] = new[] { "what", "is", "a", "the", "of" },
        ["suffixes"] = new[] { "ing", "ed", "es", "s" },
        ["min_stem"] = 3,
    });

    [Fact]
    public void Features_and_scores_match_the_reference_cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "tests", "fixtures", "ranker-features.json")));
        var ranker = new LexicalRanker(RankerSpec.Parse(doc.RootElement.GetProperty("spec").GetRawText()), "fixture@0");
        int cases = 0, nonZero = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var candidates = c.GetProperty("candidates").EnumerateArray()
                .Select(x => new RankerCandidate(x.GetProperty("doc").GetString()!, x.GetProperty("title").GetString()!, x.GetProperty("text").GetString()!)).ToList();
            int f = RankerSpec.FeatureNames.Count;
            var features = new double[candidates.Count * f];
            string query = c.GetProperty("query").GetString()!;
            ranker.Features(query, candidates, features);
            var expected = c.GetProperty("features").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble())).ToArray();
            for (int i = 0; i < expected.Length; i++)
            {
                features[i].ShouldBe(expected[i], 1e-9, $"'{query}' candidate {i / f} feature {RankerSpec.FeatureNames[i % f]}");
                if (i % f is > 0 and < 5 or 6 && expected[i] != 0) nonZero++;
            }
            var scores = new float[candidates.Count];
            ranker.Score(query, candidates, scores);
            var want = c.GetProperty("scores").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (int i = 0; i < want.Length; i++) ((double)scores[i]).ShouldBe(want[i], 1e-5);
            cases++;
        }
        cases.ShouldBeGreaterThan(20);
        nonZero.ShouldBeGreaterThan(100); // the cases exercise the match features, not only the rank
    }

    [Fact]
    public void A_candidate_holding_the_rare_question_terms_in_its_title_rises()
    {
        var ranker = new LexicalRanker(RankerSpec.Parse(SpecJson([1, 1, 1, 1, 1, 0, 1])), "t@0");
        RankerCandidate[] candidates =
        [
            new("yacc", "yacc", "Yet another compiler compiler, a parser generator."),
            new("jargon", "new jersey", "A compiler of anything."),
            new("compiler", "compiler", "A program that translates source code into machine code."),
        ];
        var scores = new float[3];
        ranker.Score("What is a compiler?", candidates, scores);
        scores[2].ShouldBeGreaterThan(scores[0]);
        scores[2].ShouldBeGreaterThan(scores[1]);
        // "compiler" is in every candidate: with the term in all of them, only its idf floor separates them; the title decides
        var features = new double[3 * 7];
        ranker.Features("What is a compiler?", candidates, features);
        features[2 * 7 + 4].ShouldBe(1.0);
        features[2 * 7 + 6].ShouldBe(1.0); // "compiler" is all question
        features[1 * 7 + 6].ShouldBe(0.0); // "new jersey" none of it
        features[0 * 7 + 4].ShouldBe(0.0);
    }

    [Fact]
    public void Stop_words_and_stems_follow_the_spec()
    {
        var ranker = new LexicalRanker(RankerSpec.Parse(SpecJson([0, 1, 0, 0, 0, 0, 0])), "t@0");
        LexicalRanker.Words("Straße, CAFÉ-64bit don't").ShouldBe(["straße", "café", "64bit", "don", "t"]);
        ranker.Stem("compilers").ShouldBe("compiler");
        ranker.Stem("parsing").ShouldBe("pars");
        ranker.Stem("sing").ShouldBe("sing"); // would leave 1 character
        var features = new double[7];
        ranker.Features("what is the", [new RankerCandidate("d", "", "what is the")], features);
        features[1..5].ToArray().ShouldAllBe(v => v == 0);
        features[6].ShouldBe(0.0); // no question terms: nothing to match
        features[0].ShouldBe(1.0);
    }

    [Theory]
    [InlineData("{}", "format")]
    [InlineData("""{"format":"retro-ranker","format_version":2}""", "format_version")]
    [InlineData("""{"format":"retro-ranker","format_version":1,"features":["coverage"],"weights":[1]}""", "features")]
    [InlineData("not json", "not valid JSON")]
    public void A_bad_ranker_file_is_refused_with_the_reason(string json, string reason)
        => Should.Throw<InvalidDataException>(() => RankerSpec.Parse(json, "x/ranker.json")).Message.ShouldContain(reason);

    [Fact]
    public void Non_finite_weights_and_a_zero_window_are_refused()
    {
        Should.Throw<InvalidDataException>(() => RankerSpec.Parse(SpecJson([1, 1, 1, 1, 1, 1, 1], window: 0))).Message.ShouldContain("window");
        string nan = SpecJson([1, 1, 1, 1, 1, 1, 1]).Replace("[1,1,1,1,1,1,1]", "[1,1,1,1,1,1,\"x\"]", StringComparison.Ordinal);
        Should.Throw<InvalidDataException>(() => RankerSpec.Parse(nan)).Message.ShouldContain("weights[6]");
    }

    [Fact]
    public void A_folder_loads_with_an_id_from_its_file_and_the_shipped_ranker_parses()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ranker-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            LexicalRanker.IsRankerFolder(dir).ShouldBeFalse();
            Should.Throw<FileNotFoundException>(() => LexicalRanker.Load(dir));
            File.WriteAllText(Path.Combine(dir, RankerSpec.FileName), SpecJson([1, 2, 3, 4, 5, 6, 7]));
            LexicalRanker.IsRankerFolder(dir).ShouldBeTrue();
            var ranker = LexicalRanker.Load(dir);
            ranker.ModelId.ShouldMatch($"^{Path.GetFileName(dir)}@[0-9a-f]{{12}}$");
            ranker.Spec.Weights.ShouldBe([1.0, 2, 3, 4, 5, 6, 7]);
            ranker.WeighsFirstStage.ShouldBeTrue();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        var shipped = LexicalRanker.Load(Path.Combine(Root, "models", "ranker"));
        shipped.ModelId.ShouldStartWith("ranker@");
        shipped.Spec.Weights[4].ShouldBeGreaterThan(0); // a title match counts for the candidate
    }

    [Fact]
    public async Task The_retriever_orders_by_the_ranker_alone_whatever_the_rerank_weight()
    {
        // first stage (vector order): doc0 "apple", doc1 "avocado pear", doc2 "apricot jam and toast"
        var chunks = new[] { "apple", "avocado pear", "apricot jam and toast" }.Select((t, i) => TestChunks.Make("doc" + i, 0, t)).ToList();
        var store = new OrderedStore(chunks);
        var ranker = new LexicalRanker(RankerSpec.Parse(SpecJson([1, 5, 0, 0, 0, 0, 0])), "t@0");
        var retriever = new Retriever(new ConstantEncoder(), store, store, ranker);
        foreach (float weight in new[] { 0f, 0.2f, 1f })
        {
            var result = await retriever.RetrieveAsync("toast with jam", new RetrievalOptions { K = 3, Candidates = 3, Rerank = true, RerankWeight = weight });
            result.Neighbours.Select(n => n.Chunk.Text).ShouldBe(["apricot jam and toast", "apple", "avocado pear"], $"weight {weight}");
            result.Neighbours.ShouldAllBe(n => n.RerankScore != null);
        }
        var plain = await retriever.RetrieveAsync("toast with jam", new RetrievalOptions { K = 3, Candidates = 3, Rerank = false });
        plain.Neighbours[0].Chunk.Text.ShouldBe("apple");
    }

    private sealed class ConstantEncoder : ITextEncoder
    {
        public int Dimension => 1;
        public string ModelId => "constant";
        public void Encode(ReadOnlySpan<string> texts, Span<float> destination) => destination[..texts.Length].Fill(1f);
    }

    // Returns its chunks in list order (scores falling): the first stage's order is the list's.
    private sealed class OrderedStore(List<Chunk> chunks) : IVectorSearch, IChunkStore
    {
        public ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
        {
            int n = Math.Min(Math.Min(options.Limit, results.Length), chunks.Count);
            for (int i = 0; i < n; i++) results.Span[i] = new SearchHit(chunks[i].Id, 1f - i * 0.1f);
            return ValueTask.FromResult(n);
        }

        public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult((long)chunks.Count);

        public ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default)
            => ValueTask.FromResult<IReadOnlyList<Chunk?>>(ids.Select(id => (Chunk?)chunks.First(c => c.Id == id)).ToList());
    }
}
