namespace Retro.Core;

/// <summary>How to search: how many results, how hard, and which points may be returned.</summary>
public sealed record SearchOptions
{
    /// <summary>Number of results wanted (1..10,000).</summary>
    public int Limit { get; init; } = 10;

    /// <summary>HNSW beam width; null = the collection's default (at least <see cref="Limit"/> is used).</summary>
    public int? Ef { get; init; }

    /// <summary>Only points of these documents (null = any).</summary>
    public IReadOnlyCollection<string>? OnlyDocuments { get; init; }

    /// <summary>Never points of this document (RETRO training excludes a chunk's own document).</summary>
    public string? ExcludeDocument { get; init; }

    /// <summary>Only points whose metadata has every one of these key/value pairs (null = no condition).</summary>
    public IReadOnlyDictionary<string, string>? MetadataEquals { get; init; }

    /// <summary>True when a point must be checked against a filter at all.</summary>
    public bool HasFilter => OnlyDocuments is not null || ExcludeDocument is not null || MetadataEquals is { Count: > 0 };

    /// <summary>Whether <paramref name="chunk"/> passes this filter (the reference semantics every store implements).</summary>
    public bool Accepts(Chunk chunk)
    {
        if (ExcludeDocument is not null && chunk.DocumentId == ExcludeDocument) return false;
        if (OnlyDocuments is not null && !OnlyDocuments.Contains(chunk.DocumentId)) return false;
        if (MetadataEquals is not null)
        {
            foreach (var (key, value) in MetadataEquals)
            {
                if (!chunk.Metadata.TryGetValue(key, out var actual) || actual != value) return false;
            }
        }
        return true;
    }
}
