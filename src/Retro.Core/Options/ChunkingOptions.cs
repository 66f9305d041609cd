using System.ComponentModel.DataAnnotations;

namespace Retro.Core;

/// <summary>Section <c>Retro:Chunking</c>: RETRO's chunk size m and the stored continuation length.</summary>
public sealed record ChunkingOptions
{
    public const string Section = "Retro:Chunking";

    /// <summary>Tokens per chunk (RETRO's m = 64).</summary>
    [Range(1, 4096)]
    public int ChunkTokens { get; init; } = 64;

    /// <summary>Tokens of continuation stored with each chunk (r − m = 64).</summary>
    [Range(0, 4096)]
    public int ContinuationTokens { get; init; } = 64;
}
