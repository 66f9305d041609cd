using System.Buffers;

namespace Retro.Tokenizers.Pipeline;

/// <summary>Finds added tokens in raw text: leftmost match, longest content first at a position.</summary>
internal sealed class AddedVocabulary
{
    private readonly Dictionary<int, AddedToken> _byId = new();
    private readonly Dictionary<string, AddedToken> _byContent = new(StringComparer.Ordinal);
    private readonly Dictionary<char, AddedToken[]> _byFirstChar = new();
    private readonly SearchValues<char> _firstChars;

    public AddedVocabulary(IReadOnlyList<AddedToken> tokens)
    {
        Tokens = tokens;
        foreach (var t in tokens)
        {
            if (string.IsNullOrEmpty(t.Content)) throw new TokenizerFormatException($"Added token {t.Id} has empty content.");
            if (!_byId.TryAdd(t.Id, t)) throw new TokenizerFormatException($"Two added tokens share id {t.Id}.");
            if (!_byContent.TryAdd(t.Content, t)) throw new TokenizerFormatException($"Added token '{t.Content}' appears twice.");
        }
        foreach (var group in tokens.GroupBy(t => t.Content[0]))
        {
            _byFirstChar[group.Key] = group.OrderByDescending(t => t.Content.Length).ThenBy(t => t.Id).ToArray();
        }
        _firstChars = SearchValues.Create(_byFirstChar.Keys.ToArray());
    }

    public IReadOnlyList<AddedToken> Tokens { get; }

    public int MaxId => _byId.Count == 0 ? -1 : _byId.Keys.Max();

    public AddedToken? ById(int id) => _byId.GetValueOrDefault(id);

    public AddedToken? ByContent(string content) => _byContent.GetValueOrDefault(content);

    /// <summary>
    /// The next match at or after <paramref name="from"/>: the matched range (stripped whitespace included) and the
    /// token; false when there is none.
    /// </summary>
    public bool TryFindNext(ReadOnlySpan<char> text, int from, bool includeSpecial, out int start, out int end, out AddedToken? token)
    {
        start = end = 0;
        token = null;
        if (_byId.Count == 0) return false;
        int i = from;
        while (i < text.Length)
        {
            int k = text[i..].IndexOfAny(_firstChars);
            if (k < 0) return false;
            i += k;
            foreach (var candidate in _byFirstChar[text[i]])
            {
                if ((candidate.Special && !includeSpecial) || !text[i..].StartsWith(candidate.Content, StringComparison.Ordinal)) continue;
                int s = i, e = i + candidate.Content.Length;
                if (candidate.SingleWord && (IsWordChar(text, s - 1) || IsWordChar(text, e))) continue;
                if (candidate.LStrip) while (s > from && char.IsWhiteSpace(text[s - 1])) s--;
                if (candidate.RStrip) while (e < text.Length && char.IsWhiteSpace(text[e])) e++;
                (start, end, token) = (s, e, candidate);
                return true;
            }
            i++;
        }
        return false;
    }

    private static bool IsWordChar(ReadOnlySpan<char> text, int i) =>
        (uint)i < (uint)text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_');
}
