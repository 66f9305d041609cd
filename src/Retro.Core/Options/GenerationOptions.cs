using System.ComponentModel.DataAnnotations;

namespace Retro.Core.Options;

/// <summary>Section <c>Retro:Generation</c>: sampling and stopping.</summary>
public sealed record GenerationOptions
{
    public const string Section = "Retro:Generation";

    /// <summary>New tokens at most.</summary>
    [Range(1, 4096)]
    public int MaxTokens { get; init; } = 64;

    /// <summary>0 = greedy; otherwise logits are divided by it before sampling.</summary>
    [Range(0.0, 10.0)]
    public float Temperature { get; init; }

    /// <summary>Nucleus sampling mass (1 = off).</summary>
    [Range(0.0, 1.0)]
    public float TopP { get; init; } = 1f;

    /// <summary>Keep only the best K tokens (0 = off).</summary>
    [Range(0, 100000)]
    public int TopK { get; init; }

    /// <summary>CTRL-style repetition penalty (1 = off).</summary>
    [Range(1.0, 10.0)]
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>
    /// No n-gram of this many tokens occurs twice in the question and answer (the token that would repeat one is never
    /// chosen); 0 = off. The default, 4, stops the loops a small decoder falls into without penalising the words it
    /// copies from its neighbours once.
    /// </summary>
    [Range(0, 64)]
    public int NoRepeatNgramSize { get; init; } = 4;

    /// <summary>Seed of the sampler; the same seed, prompt and neighbours give the same tokens.</summary>
    public ulong Seed { get; init; }

    /// <summary>Generation stops when the decoded text ends with one of these (the stop text is not returned).</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];
}
