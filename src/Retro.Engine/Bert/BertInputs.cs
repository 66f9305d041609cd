using Retro.Tokenizers;

namespace Retro.Engine.Bert;

/// <summary>The checked, tokenized inputs of a bi-encoder call and of a cross-encoder call, shared by the managed and ONNX engines.</summary>
internal static class BertInputs
{
    /// <summary><c>[CLS] text [SEP]</c> per text, truncated to <paramref name="maxLength"/>; checks <paramref name="destination"/> holds texts × <paramref name="dimension"/>.</summary>
    public static ModelInput[] Texts(Tokenizer tokenizer, ReadOnlySpan<string> texts, int maxLength, int dimension, int destination)
    {
        if (destination < texts.Length * dimension)
            throw new ArgumentException($"destination holds {destination} values; {texts.Length} texts need {texts.Length * dimension}", nameof(destination));
        var inputs = new ModelInput[texts.Length];
        for (int i = 0; i < texts.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(texts[i], $"texts[{i}]");
            inputs[i] = tokenizer.EncodeForModel(texts[i], maxLength: maxLength);
        }
        return inputs;
    }

    /// <summary><c>[CLS] query [SEP] candidate [SEP]</c> per candidate (longest-first truncation); checks <paramref name="scores"/> holds one per candidate.</summary>
    public static ModelInput[] Pairs(Tokenizer tokenizer, string query, ReadOnlySpan<string> candidates, int maxLength, int scores)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (scores < candidates.Length)
            throw new ArgumentException($"scores holds {scores} values for {candidates.Length} candidates", nameof(scores));
        var inputs = new ModelInput[candidates.Length];
        for (int i = 0; i < candidates.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(candidates[i], $"candidates[{i}]");
            inputs[i] = tokenizer.EncodeForModel(query, candidates[i], maxLength);
        }
        return inputs;
    }
}
