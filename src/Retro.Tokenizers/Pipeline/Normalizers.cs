using System.Globalization;
using System.Text;
using System.Text.Json;
using Retro.Tokenizers.Unicode;

namespace Retro.Tokenizers.Pipeline;

/// <summary>A Hugging Face normalizer: rewrites text keeping the alignment to the source.</summary>
internal abstract class Normalizer
{
    public abstract NormalizedText Normalize(NormalizedText input);

    public abstract void Write(Utf8JsonWriter writer);

    /// <summary>Calls <paramref name="map"/> for each code point with its source range.</summary>
    protected static NormalizedText MapCodePoints(NormalizedText input, Action<int, int, int, NormalizedBuilder> map)
    {
        string text = input.Text;
        var builder = new NormalizedBuilder(text.Length + 8);
        for (int i = 0; i < text.Length;)
        {
            int width = UnicodeNormalizer.ReadCodePoint(text, i, out int cp);
            int start = input.SourceStart(i), end = input.SourceEnd(i + width - 1);
            map(cp, start, end, builder);
            i += width;
        }
        return builder.Build();
    }

    protected static NormalizedText LowercaseText(NormalizedText input) =>
        MapCodePoints(input, static (cp, s, e, b) => CharClass.AppendLower(cp, b, s, e));

    protected static NormalizedText RemoveMarks(NormalizedText input) =>
        MapCodePoints(input, static (cp, s, e, b) =>
        {
            if (CharClass.Category(cp) != UnicodeCategory.NonSpacingMark) b.AppendCodePoint(cp, s, e);
        });
}

/// <summary>BERT's normalizer: clean text, pad CJK ideographs with spaces, strip accents, lower-case.</summary>
internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool? stripAccents, bool lowercase) : Normalizer
{
    public bool CleanText { get; } = cleanText;
    public bool HandleChineseChars { get; } = handleChineseChars;
    public bool? StripAccents { get; } = stripAccents;
    public bool Lowercase { get; } = lowercase;

    public override NormalizedText Normalize(NormalizedText input)
    {
        bool clean = CleanText, chinese = HandleChineseChars;
        var text = MapCodePoints(input, (cp, s, e, b) =>
        {
            if (clean)
            {
                if (cp is 0 or 0xFFFD || CharClass.IsControl(cp)) return;
                if (CharClass.IsWhitespace(cp)) cp = ' ';
            }
            if (chinese && CharClass.IsCjk(cp))
            {
                b.Append(' ', s, e);
                b.AppendCodePoint(cp, s, e);
                b.Append(' ', s, e);
                return;
            }
            b.AppendCodePoint(cp, s, e);
        });
        if (StripAccents ?? Lowercase) text = RemoveMarks(UnicodeNormalizer.Normalize(text, NormalizationForm.FormD));
        if (Lowercase) text = LowercaseText(text);
        return text;
    }

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "BertNormalizer");
        writer.WriteBoolean("clean_text", CleanText);
        writer.WriteBoolean("handle_chinese_chars", HandleChineseChars);
        if (StripAccents is { } strip) writer.WriteBoolean("strip_accents", strip);
        else writer.WriteNull("strip_accents");
        writer.WriteBoolean("lowercase", Lowercase);
        writer.WriteEndObject();
    }
}

/// <summary>One of the four Unicode normalization forms.</summary>
internal sealed class UnicodeFormNormalizer(NormalizationForm form) : Normalizer
{
    public NormalizationForm Form { get; } = form;

    public override NormalizedText Normalize(NormalizedText input) => UnicodeNormalizer.Normalize(input, Form);

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", Form switch
        {
            NormalizationForm.FormC => "NFC",
            NormalizationForm.FormD => "NFD",
            NormalizationForm.FormKC => "NFKC",
            _ => "NFKD",
        });
        writer.WriteEndObject();
    }
}

/// <summary>Full Unicode lower-casing, code point by code point.</summary>
internal sealed class LowercaseNormalizer : Normalizer
{
    public override NormalizedText Normalize(NormalizedText input) => LowercaseText(input);

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "Lowercase");
        writer.WriteEndObject();
    }
}

/// <summary>Removes non-spacing marks (Mn); usually preceded by NFD.</summary>
internal sealed class StripAccentsNormalizer : Normalizer
{
    public override NormalizedText Normalize(NormalizedText input) => RemoveMarks(input);

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "StripAccents");
        writer.WriteEndObject();
    }
}

/// <summary>Applies normalizers in order.</summary>
internal sealed class SequenceNormalizer(IReadOnlyList<Normalizer> normalizers) : Normalizer
{
    public IReadOnlyList<Normalizer> Normalizers { get; } = normalizers;

    public override NormalizedText Normalize(NormalizedText input)
    {
        foreach (var n in Normalizers) input = n.Normalize(input);
        return input;
    }

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "Sequence");
        writer.WriteStartArray("normalizers");
        foreach (var n in Normalizers) n.Write(writer);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
