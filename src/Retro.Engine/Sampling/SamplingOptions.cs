using Retro.Core;
using Retro.Core.Options;

namespace Retro.Engine.Sampling;

/// <summary>
/// How the next token is chosen from logits. Temperature 0 = greedy (argmax, lowest id on ties); otherwise the logits
/// are divided by the temperature, optionally cut to the top-k and to the nucleus of mass top-p, and sampled with a
/// seeded generator (same seed and logits give the same tokens).
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Greedy decoding: temperature 0, no penalty.</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };

    /// <summary>Softmax temperature, ≥ 0; 0 means greedy.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep only the k most likely tokens; 0 disables.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches this mass, in [0, 1]; 1 disables, 0 keeps the top token.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>
    /// CTRL repetition penalty, ≥ 1 (1 disables): each distinct token already in the history has its logit divided by
    /// the penalty when positive and multiplied by it when negative.
    /// </summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>No n-gram of this many tokens may repeat within the history (0 disables): see <see cref="Sampler"/>.</summary>
    public int NoRepeatNgramSize { get; init; }

    /// <summary>Seed of the random generator (ignored when greedy).</summary>
    public ulong Seed { get; init; }

    /// <summary>The sampling part of the service's <see cref="GenerationOptions"/>.</summary>
    public static SamplingOptions From(GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new SamplingOptions
        {
            Temperature = options.Temperature,
            TopK = options.TopK,
            TopP = options.TopP,
            RepetitionPenalty = options.RepetitionPenalty,
            NoRepeatNgramSize = options.NoRepeatNgramSize,
            Seed = options.Seed,
        }.Validate();
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a value outside its range.</summary>
    public SamplingOptions Validate()
    {
        if (!(Temperature >= 0f) || float.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be finite and ≥ 0");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top-k must be ≥ 0 (0 disables)");
        if (!(TopP >= 0f && TopP <= 1f)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top-p must be in [0, 1]");
        if (!(RepetitionPenalty >= 1f) || float.IsInfinity(RepetitionPenalty))
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "repetition penalty must be finite and ≥ 1");
        if (NoRepeatNgramSize < 0) throw new ArgumentOutOfRangeException(nameof(NoRepeatNgramSize), NoRepeatNgramSize, "no-repeat n-gram size must be ≥ 0 (0 disables)");
        return this;
    }
}
