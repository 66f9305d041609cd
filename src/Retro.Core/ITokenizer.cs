namespace Retro.Core;

/// <summary>Text to token ids and back. Implementations are immutable and thread-safe.</summary>
public interface ITokenizer
{
    /// <summary>Number of ids (the largest id + 1, special tokens included).</summary>
    int VocabularySize { get; }

    /// <summary>
    /// Tokenizes <paramref name="text"/> without adding special tokens (no [CLS]/[SEP]/BOS), writing ids into
    /// <paramref name="destination"/>. Returns the number of ids; when <paramref name="destination"/> is too small,
    /// returns the negated number of ids needed and writes nothing meaningful.
    /// </summary>
    int Encode(ReadOnlySpan<char> text, Span<int> destination);

    /// <summary>Tokenizes <paramref name="text"/> without adding special tokens.</summary>
    int[] Encode(string text);

    /// <summary>
    /// Tokenizes and returns, per id, the range of <paramref name="text"/> (UTF-16 offsets) it came from. For byte-level
    /// tokens that split a character, the range covers the whole character.
    /// </summary>
    IReadOnlyList<(int Id, Range Offsets)> EncodeWithOffsets(string text);

    /// <summary>Turns ids back into text (special tokens are skipped when <paramref name="skipSpecialTokens"/>).</summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true);

    /// <summary>The id of a token string (special or not), or null when it is not in the vocabulary.</summary>
    int? TokenToId(string token);

    /// <summary>The token string of an id, or null when out of range.</summary>
    string? IdToToken(int id);
}
