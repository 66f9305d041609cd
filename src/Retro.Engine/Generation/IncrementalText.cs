using Retro.Core;

namespace Retro.Engine.Generation;

/// <summary>
/// Turns generated ids into text deltas: decodes the whole generated sequence, cuts at the first stop text, and holds
/// back a tail that may still become a stop text or that ends in a partial character (U+FFFD), so no delta ever
/// carries stop text. The concatenated deltas are a prefix of <see cref="Final"/>. Not thread-safe.
/// </summary>
internal sealed class IncrementalText
{
    private readonly ITokenizer _tokenizer;
    private readonly IReadOnlyList<string> _stops;
    private readonly List<int> _ids = [];
    private int _emitted;

    public IncrementalText(ITokenizer tokenizer, IReadOnlyList<string>? stops)
    {
        _tokenizer = tokenizer;
        var nonEmpty = new List<string>();
        foreach (var s in stops ?? []) if (!string.IsNullOrEmpty(s)) nonEmpty.Add(s);
        _stops = nonEmpty;
    }

    /// <summary>All text so far, cut before the stop text when one occurred.</summary>
    public string Final { get; private set; } = "";

    /// <summary>Adds a token; returns true when the text now contains a stop text. <paramref name="delta"/> is the new text safe to show.</summary>
    public bool Append(int id, out string delta)
    {
        _ids.Add(id);
        string full = _tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ids));
        int stopAt = -1;
        foreach (var stop in _stops)
        {
            int from = Math.Max(0, _emitted - stop.Length);
            int at = full.IndexOf(stop, from, StringComparison.Ordinal);
            if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0)
        {
            Final = full[..stopAt];
            delta = stopAt > _emitted ? full[_emitted..stopAt] : "";
            _emitted = Math.Max(_emitted, stopAt);
            return true;
        }

        Final = full;
        int safe = full.Length;
        while (safe > _emitted && full[safe - 1] == '\uFFFD') safe--;
        foreach (var stop in _stops)
        {
            // Longest suffix of the text that is a proper prefix of the stop text.
            for (int len = Math.Min(stop.Length - 1, full.Length); len > 0; len--)
            {
                if (full.AsSpan(full.Length - len).SequenceEqual(stop.AsSpan(0, len)))
                {
                    safe = Math.Min(safe, full.Length - len);
                    break;
                }
            }
        }
        if (safe < _emitted) safe = _emitted;
        delta = full[_emitted..safe];
        _emitted = safe;
        return false;
    }
}
