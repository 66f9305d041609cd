using System.Collections.Concurrent;
using Retro.Core;
using Retro.Core.Text;

namespace Retro.Api.Tests.Doubles;

/// <summary>
/// Brute-force cosine store with a brute-force text search (score = distinct query terms the chunk contains, by the
/// real analyzer). <see cref="Down"/> makes every call fail as an unreachable store would.
/// </summary>
internal sealed class MemoryVectorStore : IVectorStore, ITextSearch
{
    private static readonly TextAnalyzer Analyzer = new();
    private readonly ConcurrentDictionary<ChunkId, (Chunk Chunk, float[] Vector)> _points = new();

    public bool Down { get; set; }

    public CollectionSpec Collection { get; private set; } = new();

    public ValueTask EnsureCollectionAsync(CollectionSpec spec, CancellationToken cancellationToken = default)
    {
        ThrowIfDown();
        Collection = spec;
        return ValueTask.CompletedTask;
    }

    public ValueTask UpsertAsync(IReadOnlyList<VectorPoint> points, CancellationToken cancellationToken = default)
    {
        ThrowIfDown();
        foreach (var p in points) _points[p.Id] = (p.Chunk, p.Vector.ToArray());
        return ValueTask.CompletedTask;
    }

    public ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
    {
        ThrowIfDown();
        var q = query.ToArray();
        var best = _points.Values
            .Where(p => options.Accepts(p.Chunk))
            .Select(p => new SearchHit(p.Chunk.Id, System.Numerics.Tensors.TensorPrimitives.Dot(q, p.Vector)))
            .OrderByDescending(h => h.Score).ThenBy(h => h.Id)
            .Take(Math.Min(options.Limit, results.Length))
            .ToArray();
        best.CopyTo(results.Span);
        return ValueTask.FromResult(best.Length);
    }

    public ValueTask<int> SearchTextAsync(string query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
    {
        ThrowIfDown();
        var terms = Analyzer.Terms(query).ToHashSet();
        var best = _points.Values
            .Where(p => options.Accepts(p.Chunk))
            .Select(p => new SearchHit(p.Chunk.Id, Analyzer.Terms(p.Chunk.Text).Distinct().Count(terms.Contains)))
            .Where(h => h.Score > 0)
            .OrderByDescending(h => h.Score).ThenBy(h => h.Id)
            .Take(Math.Min(options.Limit, results.Length))
            .ToArray();
        best.CopyTo(results.Span);
        return ValueTask.FromResult(best.Length);
    }

    public ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default)
    {
        ThrowIfDown();
        return ValueTask.FromResult<IReadOnlyList<Chunk?>>(ids.Select(id => _points.TryGetValue(id, out var p) ? p.Chunk : null).ToArray());
    }

    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDown();
        return ValueTask.FromResult((long)_points.Count);
    }

    public ValueTask<long> DeleteDocumentAsync(string documentId, CancellationToken cancellationToken = default)
    {
        ThrowIfDown();
        long n = 0;
        foreach (var (id, p) in _points) if (p.Chunk.DocumentId == documentId && _points.TryRemove(id, out _)) n++;
        return ValueTask.FromResult(n);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask<bool> IsHealthyAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(!Down);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private void ThrowIfDown()
    {
        if (Down) throw new VectorStoreUnavailableException("test store is down");
    }

    /// <summary>A store holding a few short documents about distinct topics, embedded with <paramref name="encoder"/>.</summary>
    public static MemoryVectorStore WithSampleDocuments(ITextEncoder encoder, ITokenizer tokenizer)
    {
        var store = new MemoryVectorStore();
        string[] texts =
        [
            "The Eiffel Tower is in Paris, the capital of France.",
            "Mount Everest is the highest mountain on Earth.",
            "The Pacific Ocean is the largest ocean.",
            "Python is a programming language created by Guido van Rossum.",
            "Paris hosts the Louvre museum and the Eiffel Tower.",
        ];
        var points = new List<VectorPoint>();
        for (int i = 0; i < texts.Length; i++)
        {
            string doc = $"https://example.org/doc{i}";
            var chunk = new Chunk(ChunkId.From(doc, 0), doc, doc, 0, texts[i], tokenizer.Encode(texts[i]), "More text follows.", tokenizer.Encode("More text follows."),
                new Dictionary<string, string>());
            var vector = new float[encoder.Dimension];
            encoder.Encode([texts[i]], vector);
            points.Add(new VectorPoint(chunk, vector));
        }
        store.UpsertAsync(points).AsTask().GetAwaiter().GetResult();
        return store;
    }
}
