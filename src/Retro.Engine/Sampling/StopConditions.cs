using Retro.Core;
using Retro.Core.Options;

namespace Retro.Engine.Sampling;

/// <summary>
/// When generation ends: a maximum number of new tokens, end-of-sequence ids, and stop sequences matched on the
/// decoded text (ordinal comparison). Immutable and thread-safe; allocates nothing per check.
/// </summary>
public sealed class StopConditions
{
    private readonly int[] _eosIds;
    private readonly string[] _stopSequences;

    /// <summary>
    /// Creates the conditions. <paramref name="maxTokens"/> ≥ 1 counts generated tokens; <paramref name="eosIds"/> are
    /// ids that end the answer (not part of it); <paramref name="stopSequences"/> are non-empty strings.
    /// </summary>
    public StopConditions(int maxTokens, IEnumerable<int>? eosIds = null, IEnumerable<string>? stopSequences = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        MaxTokens = maxTokens;
        _eosIds = eosIds is null ? [] : [.. eosIds];
        _stopSequences = stopSequences is null ? [] : [.. stopSequences];
        foreach (var s in _stopSequences)
            if (string.IsNullOrEmpty(s)) throw new ArgumentException("stop sequences must be non-empty", nameof(stopSequences));
        foreach (var s in _stopSequences) LongestStopSequence = Math.Max(LongestStopSequence, s.Length);
    }

    /// <summary>The stopping part of the service's <see cref="GenerationOptions"/>, with the model's EOS id (-1: none).</summary>
    public static StopConditions From(GenerationOptions options, int eosTokenId)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new StopConditions(options.MaxTokens, eosTokenId >= 0 ? [eosTokenId] : null, options.Stop);
    }

    /// <summary>The most new tokens to generate.</summary>
    public int MaxTokens { get; }

    /// <summary>Ids that end generation.</summary>
    public IReadOnlyList<int> EosIds => _eosIds;

    /// <summary>Strings that end generation when they appear in the decoded answer.</summary>
    public IReadOnlyList<string> StopSequences => _stopSequences;

    /// <summary>Length of the longest stop sequence (0 when there is none).</summary>
    public int LongestStopSequence { get; }

    /// <summary>True when <paramref name="token"/> is an end-of-sequence id.</summary>
    public bool IsEos(int token) => Array.IndexOf(_eosIds, token) >= 0;

    /// <summary>
    /// Checks the token just generated: <see cref="StopReason.EndOfSequence"/> for an EOS id (drop it), else
    /// <see cref="StopReason.MaxTokens"/> once <paramref name="generatedCount"/> (tokens generated so far, this one
    /// included) reaches the limit (keep it), else <see cref="StopReason.None"/>.
    /// </summary>
    public StopReason CheckToken(int token, int generatedCount)
    {
        if (IsEos(token)) return StopReason.EndOfSequence;
        return generatedCount >= MaxTokens ? StopReason.MaxTokens : StopReason.None;
    }

    /// <summary>
    /// Looks for the earliest stop sequence in <paramref name="text"/> (the whole decoded answer) that ends at or after
    /// <paramref name="newTextStart"/> (where the text added by the latest token begins; earlier text was already
    /// checked). Returns the index where the answer must be cut, or -1 when no stop sequence occurs.
    /// </summary>
    public int FindStopSequence(ReadOnlySpan<char> text, int newTextStart)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(newTextStart);
        if (_stopSequences.Length == 0) return -1;
        newTextStart = Math.Min(newTextStart, text.Length);
        int best = -1;
        foreach (var s in _stopSequences)
        {
            // an occurrence starting here or later ends inside the new text
            int from = Math.Max(0, newTextStart - s.Length + 1);
            int at = text[from..].IndexOf(s.AsSpan(), StringComparison.Ordinal);
            if (at < 0) continue;
            at += from;
            if (best < 0 || at < best) best = at;
        }
        return best;
    }

    /// <summary>
    /// Length of the prefix of <paramref name="text"/> that can be streamed now: a suffix that is a proper prefix of a
    /// stop sequence is held back until the next tokens decide it.
    /// </summary>
    public int SafePrefixLength(ReadOnlySpan<char> text)
    {
        int hold = 0;
        foreach (var s in _stopSequences)
        {
            int max = Math.Min(s.Length - 1, text.Length);
            for (int len = max; len > hold; len--)
            {
                if (text[^len..].SequenceEqual(s.AsSpan(0, len))) { hold = len; break; }
            }
        }
        return text.Length - hold;
    }
}
