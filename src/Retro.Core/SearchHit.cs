namespace Retro.Core;

/// <summary>One result of a vector search: the point and its similarity (higher is closer for every metric).</summary>
public readonly record struct SearchHit(ChunkId Id, float Score)
{
    /// <summary>Which side found it; <see cref="HitSource.None"/> in a store's raw results, set by fusion.</summary>
    public HitSource Source { get; init; }
}
