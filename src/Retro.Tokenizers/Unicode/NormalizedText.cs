namespace Retro.Tokenizers.Unicode;

/// <summary>
/// Text after normalization with, per UTF-16 unit, the range of the source text it came from
/// (<c>Start[i]</c> inclusive, <c>End[i]</c> exclusive). Null maps mean the identity alignment.
/// </summary>
internal sealed class NormalizedText
{
    public NormalizedText(string text, int[]? start, int[]? end)
    {
        Text = text;
        Start = start;
        End = end;
    }

    public string Text { get; }
    public int[]? Start { get; }
    public int[]? End { get; }

    /// <summary>Identity alignment over <paramref name="text"/>.</summary>
    public static NormalizedText Identity(string text) => new(text, null, null);

    /// <summary>Source range of normalized units [start, end) (end &gt; start).</summary>
    public (int Start, int End) SourceRange(int start, int end)
    {
        if (Start is null) return (start, end);
        int s = int.MaxValue, e = 0;
        for (int i = start; i < end; i++)
        {
            s = Math.Min(s, Start[i]);
            e = Math.Max(e, End![i]);
        }
        return (s, e);
    }

    public int SourceStart(int i) => Start is null ? i : Start[i];
    public int SourceEnd(int i) => End is null ? i + 1 : End[i];
}

/// <summary>Builds a <see cref="NormalizedText"/> one unit at a time.</summary>
internal sealed class NormalizedBuilder
{
    private char[] _chars;
    private int[] _start;
    private int[] _end;

    public NormalizedBuilder(int capacity)
    {
        capacity = Math.Max(capacity, 4);
        _chars = new char[capacity];
        _start = new int[capacity];
        _end = new int[capacity];
    }

    public int Length { get; private set; }

    public void Append(char c, int start, int end)
    {
        if (Length == _chars.Length) Grow();
        _chars[Length] = c;
        _start[Length] = start;
        _end[Length] = end;
        Length++;
    }

    /// <summary>Appends a code point (one or two UTF-16 units) aligned to [start, end).</summary>
    public void AppendCodePoint(int cp, int start, int end)
    {
        if (cp < 0x10000) Append((char)cp, start, end);
        else
        {
            var rune = new System.Text.Rune(cp);
            Span<char> pair = stackalloc char[2];
            rune.EncodeToUtf16(pair);
            Append(pair[0], start, end);
            Append(pair[1], start, end);
        }
    }

    public NormalizedText Build() =>
        new(new string(_chars, 0, Length), _start.AsSpan(0, Length).ToArray(), _end.AsSpan(0, Length).ToArray());

    private void Grow()
    {
        int size = _chars.Length * 2;
        Array.Resize(ref _chars, size);
        Array.Resize(ref _start, size);
        Array.Resize(ref _end, size);
    }
}
