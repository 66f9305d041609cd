using System.ComponentModel.DataAnnotations;

namespace Retro.Core.Options;

/// <summary>Section <c>Retro:Models</c>: model folders (config.json + model.safetensors + tokenizer.json).</summary>
public sealed record ModelOptions
{
    public const string Section = "Retro:Models";

    /// <summary>Bi-encoder folder.</summary>
    [Required]
    public string Encoder { get; init; } = "models/encoder";

    /// <summary>
    /// Reranker folder: a learned ranker (<c>ranker.json</c>, <see cref="Ranking.LexicalRanker"/>; the default) or a
    /// cross-encoder (config.json + model.safetensors + tokenizer.json); empty disables reranking.
    /// </summary>
    public string? Reranker { get; init; } = "models/ranker";

    /// <summary>RETRO decoder folder.</summary>
    [Required]
    public string Decoder { get; init; } = "models/retro";
}
