using System.ComponentModel.DataAnnotations;

namespace Retro.Core.Options;

/// <summary>Section <c>Retro:Models</c>: model folders (config.json + model.safetensors + tokenizer.json).</summary>
public sealed record ModelOptions
{
    public const string Section = "Retro:Models";

    /// <summary>Bi-encoder folder.</summary>
    [Required]
    public string Encoder { get; init; } = "models/encoder";

    /// <summary>Cross-encoder folder; empty disables reranking.</summary>
    public string? Reranker { get; init; } = "models/reranker";

    /// <summary>RETRO decoder folder.</summary>
    [Required]
    public string Decoder { get; init; } = "models/retro";
}
