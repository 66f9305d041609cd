namespace Retro.Tokenizers.Training;

/// <summary>Settings of <see cref="BpeTrainer"/>.</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>Target vocabulary size: special tokens + 256 byte characters + merges (at least 256 + specials).</summary>
    public int VocabularySize { get; init; } = 16_384;

    /// <summary>A pair is merged only if it occurs at least this many times (weighted by word frequency).</summary>
    public int MinFrequency { get; init; } = 2;

    /// <summary>Special tokens: ids 0.. in this order, matched whole in the training text and never merged.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = ["<|endoftext|>"];

    /// <summary>The ByteLevel pre-tokenizer's <c>add_prefix_space</c> (GPT-2: false).</summary>
    public bool AddPrefixSpace { get; init; }

    /// <summary>Threads for word counting (1 or more).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;
}
