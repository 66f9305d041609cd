using Retro.Core;
using Retro.Core.Text;
using Retro.VectorStore.Text;

namespace Retro.VectorStore.Tests;

/// <summary>The pruned top-k search of <see cref="InvertedIndex"/> against exhaustive BM25 on a Zipf-like corpus.</summary>
public sealed class InvertedIndexTests
{
    // Relative tolerance on scores: the pruned search sums the same terms in the same order, so differences are rounding only.
    private const float Tolerance = 1e-5f;

    private static (InvertedIndex Index, List<Dictionary<uint, int>> Docs) Corpus(int documents, int vocabulary, int seed)
    {
        var random = new Random(seed);
        var docs = new List<Dictionary<uint, int>>();
        var terms = new List<DocumentTerms>();
        for (int d = 0; d < documents; d++)
        {
            int length = random.Next(0, 40);
            var counts = new Dictionary<uint, int>();
            for (int i = 0; i < length; i++)
            {
                // Zipf-like: term r with probability ~ 1/r, so a few terms are in most documents (the case pruning is for).
                uint term = (uint)Math.Min(vocabulary - 1, (int)Math.Exp(random.NextDouble() * Math.Log(vocabulary)));
                counts[term] = counts.GetValueOrDefault(term) + 1;
            }
            docs.Add(counts);
            terms.Add(new DocumentTerms((uint)d, [.. counts.OrderBy(p => p.Key).Select(p => new TermCount(p.Key, p.Value))], length));
        }
        var index = new InvertedIndex();
        index.Apply([], terms);
        return (index, docs);
    }

    private static List<(uint Offset, float Score)> Exhaustive(List<Dictionary<uint, int>> docs, TermCount[] query, float k1, float b)
    {
        double avg = docs.Average(d => d.Values.Sum());
        var result = new List<(uint, float)>();
        for (int d = 0; d < docs.Count; d++)
        {
            float score = 0;
            int length = docs[d].Values.Sum();
            foreach (var q in query)
            {
                if (!docs[d].TryGetValue(q.Term, out int tf)) continue;
                int df = docs.Count(x => x.ContainsKey(q.Term));
                score += q.Count * Bm25.Idf(df, docs.Count) * Bm25.TermWeight(tf, length, (float)avg, k1, b);
            }
            if (score > 0) result.Add(((uint)d, score));
        }
        return [.. result.OrderByDescending(r => r.Item2).ThenBy(r => r.Item1)];
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 2)]
    [InlineData(10, 3)]
    [InlineData(50, 4)]
    public void Pruned_top_k_equals_exhaustive_scoring(int k, int seed)
    {
        var (index, docs) = Corpus(600, 300, seed);
        var random = new Random(100 + seed);
        var results = new (uint Offset, float Score)[k];
        for (int q = 0; q < 40; q++)
        {
            var query = Enumerable.Range(0, random.Next(1, 7)).Select(_ => (uint)random.Next(0, 300)).Distinct()
                .Select(t => new TermCount(t, random.Next(1, 3))).ToArray();
            var expected = Exhaustive(docs, query, 1.2f, 0.75f);

            int n = index.Search(query, 1.2f, 0.75f, null, results, CancellationToken.None);

            n.ShouldBe(Math.Min(k, expected.Count));
            for (int i = 0; i < n; i++)
            {
                // Same score at every rank (the document may differ only where exhaustive scores tie within rounding).
                results[i].Score.ShouldBe(expected[i].Score, Math.Abs(expected[i].Score) * Tolerance + 1e-6f);
            }
        }
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(16, false)]
    [InlineData(16, true)]
    [InlineData(100, false)]
    public void Pruned_top_k_equals_exhaustive_scoring_on_a_large_corpus(int k, bool filtered)
    {
        // Enough documents that the θ checks read only a prefix of the touched ones, some longer than the cached
        // length bounds (256), common terms in most documents: every pruning path of the search.
        var random = new Random(k * 7 + (filtered ? 1 : 0));
        const int Documents = 12_000, Vocabulary = 3_000;
        var docs = new List<Dictionary<uint, int>>();
        var terms = new List<DocumentTerms>();
        for (int d = 0; d < Documents; d++)
        {
            int length = random.Next(20) == 0 ? random.Next(256, 600) : random.Next(0, 60);
            var counts = new Dictionary<uint, int>();
            for (int i = 0; i < length; i++)
            {
                uint term = (uint)Math.Min(Vocabulary - 1, (int)Math.Exp(random.NextDouble() * Math.Log(Vocabulary)) - 1);
                counts[term] = counts.GetValueOrDefault(term) + 1;
            }
            docs.Add(counts);
            terms.Add(new DocumentTerms((uint)d, [.. counts.OrderBy(p => p.Key).Select(p => new TermCount(p.Key, p.Value))], length));
        }
        var index = new InvertedIndex();
        index.Apply([], terms);
        var df = new Dictionary<uint, int>();
        foreach (var d in docs) foreach (uint t in d.Keys) df[t] = df.GetValueOrDefault(t) + 1;
        double avg = docs.Average(d => d.Values.Sum());
        var filter = filtered ? new EvenOffsets() : null;
        var results = new (uint Offset, float Score)[k];
        for (int q = 0; q < 30; q++)
        {
            // a few rare terms and several common ones, as in natural-language questions
            var query = Enumerable.Range(0, random.Next(2, 11))
                .Select(i => (uint)(i % 3 == 0 ? random.Next(0, 12) : random.Next(0, Vocabulary)))
                .Distinct().Select(t => new TermCount(t, random.Next(1, 3))).ToArray();
            var expected = new List<(uint Offset, float Score)>();
            for (int d = 0; d < docs.Count; d++)
            {
                if (filter is not null && !filter.Accepts((uint)d)) continue;
                float score = 0;
                int length = docs[d].Values.Sum();
                foreach (var term in query)
                {
                    if (!docs[d].TryGetValue(term.Term, out int tf)) continue;
                    score += term.Count * Bm25.Idf(df[term.Term], docs.Count) * Bm25.TermWeight(tf, length, (float)avg, 1.2f, 0.75f);
                }
                if (score > 0) expected.Add(((uint)d, score));
            }
            expected = [.. expected.OrderByDescending(r => r.Score).ThenBy(r => r.Offset)];

            int n = index.Search(query, 1.2f, 0.75f, filter, results, CancellationToken.None);

            n.ShouldBe(Math.Min(k, expected.Count));
            for (int i = 0; i < n; i++)
                results[i].Score.ShouldBe(expected[i].Score, Math.Abs(expected[i].Score) * Tolerance + 1e-6f, $"query {q} rank {i}");
        }
    }

    private sealed class EvenOffsets : Retro.VectorStore.INodeFilter
    {
        public bool Accepts(uint node) => node % 2 == 0;
    }

    [Fact]
    public void Removing_a_document_updates_frequencies_and_lengths()
    {
        var index = new InvertedIndex();
        var a = new DocumentTerms(0, [new TermCount(1, 2), new TermCount(2, 1)], 3);
        var b = new DocumentTerms(1, [new TermCount(2, 1)], 1);
        index.Apply([], [a, b]);
        index.DocumentFrequency(2).ShouldBe(2);
        index.AverageLength.ShouldBe(2);

        index.Apply([a], []);

        index.Documents.ShouldBe(1);
        index.DocumentFrequency(1).ShouldBe(0);
        index.DocumentFrequency(2).ShouldBe(1);
        index.AverageLength.ShouldBe(1);
        index.Postings.ShouldBe(1);
        index.Terms.ShouldBe(1);
    }
}
