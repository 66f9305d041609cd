namespace Retro.Core;

/// <summary>One result of a vector search: the point and its similarity (higher is closer for every metric).</summary>
public readonly record struct SearchHit(ChunkId Id, float Score);
