using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Retro.Core;

namespace Retro.Ingestion.Tests;

/// <summary>Whitespace tokenizer: one token per word (id = stable hash), offsets cover the word.</summary>
internal sealed class WordTokenizer : ITokenizer
{
    public int VocabularySize => 1 << 16;

    public IReadOnlyList<(int Id, Range Offsets)> EncodeWithOffsets(string text)
    {
        var tokens = new List<(int, Range)>();
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            int start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i])) i++;
            if (i > start) tokens.Add((Id(text.AsSpan(start, i - start)), start..i));
        }
        return tokens;
    }

    private static int Id(ReadOnlySpan<char> word) => (int)(XxHash(word) & 0xFFFF);

    private static uint XxHash(ReadOnlySpan<char> s)
    {
        uint h = 2166136261;
        foreach (char c in s) h = (h ^ c) * 16777619;
        return h;
    }

    public int Encode(ReadOnlySpan<char> text, Span<int> destination)
    {
        var ids = Encode(text.ToString());
        if (ids.Length > destination.Length) return -ids.Length;
        ids.CopyTo(destination);
        return ids.Length;
    }

    public int[] Encode(string text) => EncodeWithOffsets(text).Select(t => t.Id).ToArray();
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true) => throw new NotSupportedException();
    public int? TokenToId(string token) => Id(token);
    public string? IdToToken(int id) => null;
}

/// <summary>Deterministic encoder: a normalised vector derived from SHA-256 of the text; counts calls.</summary>
internal sealed class HashEncoder(int dimension = 16) : ITextEncoder
{
    private int _texts;
    public int Dimension => dimension;
    public string ModelId => "hash";
    public int Texts => Volatile.Read(ref _texts);

    public void Encode(ReadOnlySpan<string> texts, Span<float> destination)
    {
        Interlocked.Add(ref _texts, texts.Length);
        for (int t = 0; t < texts.Length; t++)
        {
            var row = destination.Slice(t * dimension, dimension);
            byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(texts[t]));
            float norm = 0;
            for (int i = 0; i < dimension; i++) { row[i] = hash[i % 32] - 127.5f + i; norm += row[i] * row[i]; }
            for (int i = 0; i < dimension; i++) row[i] /= MathF.Sqrt(norm);
        }
    }
}

/// <summary>In-memory store with brute-force search and its own checkpoints; can be told to fail after N upserts.</summary>
internal sealed class MemoryStore : IVectorStore, IIngestCheckpoints
{
    private readonly ConcurrentDictionary<ChunkId, (Chunk Chunk, float[] Vector)> _points = new();
    private readonly ConcurrentDictionary<string, IngestCheckpoint> _checkpoints = new();
    private int _upserts;

    public int? FailAfterUpserts { get; set; }
    public int Upserts => _upserts;
    public IReadOnlyDictionary<ChunkId, (Chunk Chunk, float[] Vector)> Points => _points;
    public CollectionSpec Collection { get; private set; } = new();

    public ValueTask EnsureCollectionAsync(CollectionSpec spec, CancellationToken cancellationToken = default)
    {
        Collection = spec;
        return ValueTask.CompletedTask;
    }

    public ValueTask UpsertAsync(IReadOnlyList<VectorPoint> points, CancellationToken cancellationToken = default)
    {
        if (FailAfterUpserts is { } n && _upserts >= n) throw new VectorStoreUnavailableException("store went away (test)");
        foreach (var p in points) _points[p.Id] = (p.Chunk, p.Vector.ToArray());
        Interlocked.Increment(ref _upserts);
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default)
        => ValueTask.FromResult<IReadOnlyList<Chunk?>>(ids.Select(id => _points.TryGetValue(id, out var p) ? p.Chunk : null).ToList());

    public ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
    {
        var q = query.ToArray();
        var best = _points.Values.Where(p => options.Accepts(p.Chunk))
            .Select(p => new SearchHit(p.Chunk.Id, q.Zip(p.Vector, (a, b) => a * b).Sum()))
            .OrderByDescending(h => h.Score).Take(Math.Min(options.Limit, results.Length)).ToArray();
        best.CopyTo(results.Span);
        return ValueTask.FromResult(best.Length);
    }

    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult((long)_points.Count);
    public ValueTask<long> DeleteDocumentAsync(string documentId, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    public ValueTask<bool> IsHealthyAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(true);
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public ValueTask<IngestCheckpoint?> GetAsync(string shardKey, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(_checkpoints.TryGetValue(shardKey, out var c) ? c : null);

    public ValueTask SetAsync(IngestCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        _checkpoints[checkpoint.ShardKey] = checkpoint;
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<IngestCheckpoint>> ListAsync(CancellationToken cancellationToken = default)
        => ValueTask.FromResult<IReadOnlyList<IngestCheckpoint>>(_checkpoints.Values.OrderBy(c => c.ShardKey).ToList());
}
