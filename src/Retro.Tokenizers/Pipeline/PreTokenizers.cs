using System.Text.Json;
using Retro.Tokenizers.Unicode;

namespace Retro.Tokenizers.Pipeline;

/// <summary>A Hugging Face pre-tokenizer: splits normalized text into pieces the model tokenizes independently.</summary>
internal abstract class PreTokenizer
{
    /// <summary>Appends the pieces of text[start..end) as (start, end) pairs, in order, without overlap.</summary>
    public abstract void Split(ReadOnlySpan<char> text, int start, int end, List<(int Start, int End)> output);

    /// <summary>The byte-level pre-tokenizer in this pipeline, if any (its pieces reach the model as GPT-2 byte characters).</summary>
    public virtual ByteLevelPreTokenizer? ByteLevel => null;

    public abstract void Write(Utf8JsonWriter writer);

    protected static void WriteType(Utf8JsonWriter writer, string type)
    {
        writer.WriteStartObject();
        writer.WriteString("type", type);
        writer.WriteEndObject();
    }
}

/// <summary>GPT-2's byte-level pre-tokenizer: the GPT-2 pattern (when <see cref="UseRegex"/>), optional prefix space.</summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool trimOffsets, bool useRegex) : PreTokenizer
{
    public bool AddPrefixSpace { get; } = addPrefixSpace;
    public bool TrimOffsets { get; } = trimOffsets;
    public bool UseRegex { get; } = useRegex;

    public override ByteLevelPreTokenizer ByteLevel => this;

    public override void Split(ReadOnlySpan<char> text, int start, int end, List<(int Start, int End)> output)
    {
        if (!UseRegex)
        {
            if (end > start) output.Add((start, end));
            return;
        }
        var slice = text[start..end];
        for (int i = 0; i < slice.Length;)
        {
            int length = Gpt2PreTokenizer.MatchLength(slice, i);
            output.Add((start + i, start + i + length));
            i += length;
        }
    }

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "ByteLevel");
        writer.WriteBoolean("add_prefix_space", AddPrefixSpace);
        writer.WriteBoolean("trim_offsets", TrimOffsets);
        writer.WriteBoolean("use_regex", UseRegex);
        writer.WriteEndObject();
    }
}

/// <summary>BERT's pre-tokenizer: split on whitespace (removed) and isolate each punctuation character.</summary>
internal sealed class BertPreTokenizer : PreTokenizer
{
    public override void Split(ReadOnlySpan<char> text, int start, int end, List<(int Start, int End)> output)
    {
        int wordStart = -1;
        for (int i = start; i < end;)
        {
            int width = UnicodeNormalizer.ReadCodePoint(text[..end], i, out int cp);
            if (CharClass.IsWhitespace(cp) || CharClass.IsPunctuation(cp))
            {
                if (wordStart >= 0) output.Add((wordStart, i));
                wordStart = -1;
                if (!CharClass.IsWhitespace(cp)) output.Add((i, i + width));
            }
            else if (wordStart < 0) wordStart = i;
            i += width;
        }
        if (wordStart >= 0) output.Add((wordStart, end));
    }

    public override void Write(Utf8JsonWriter writer) => WriteType(writer, "BertPreTokenizer");
}

/// <summary>Hugging Face's <c>Whitespace</c>: the pattern <c>\w+|[^\w\s]+</c>.</summary>
internal sealed class WhitespacePreTokenizer : PreTokenizer
{
    public override void Split(ReadOnlySpan<char> text, int start, int end, List<(int Start, int End)> output)
    {
        int runStart = -1, runKind = 0; // kind 1 = word, 2 = other non-space
        for (int i = start; i < end;)
        {
            int width = UnicodeNormalizer.ReadCodePoint(text[..end], i, out int cp);
            int kind = CharClass.IsWhitespace(cp) ? 0 : CharClass.IsWordChar(cp) ? 1 : 2;
            if (kind != runKind)
            {
                if (runKind != 0) output.Add((runStart, i));
                runStart = i;
                runKind = kind;
            }
            i += width;
        }
        if (runKind != 0) output.Add((runStart, end));
    }

    public override void Write(Utf8JsonWriter writer) => WriteType(writer, "Whitespace");
}

/// <summary>Hugging Face's <c>WhitespaceSplit</c>: split on whitespace only.</summary>
internal sealed class WhitespaceSplitPreTokenizer : PreTokenizer
{
    public override void Split(ReadOnlySpan<char> text, int start, int end, List<(int Start, int End)> output)
    {
        int wordStart = -1;
        for (int i = start; i < end; i++)
        {
            if (char.IsWhiteSpace(text[i]))
            {
                if (wordStart >= 0) output.Add((wordStart, i));
                wordStart = -1;
            }
            else if (wordStart < 0) wordStart = i;
        }
        if (wordStart >= 0) output.Add((wordStart, end));
    }

    public override void Write(Utf8JsonWriter writer) => WriteType(writer, "WhitespaceSplit");
}

/// <summary>Applies pre-tokenizers in order, each to every piece of the previous.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> preTokenizers) : PreTokenizer
{
    public IReadOnlyList<PreTokenizer> PreTokenizers { get; } = preTokenizers;

    public override ByteLevelPreTokenizer? ByteLevel
    {
        get
        {
            foreach (var p in PreTokenizers) if (p.ByteLevel is { } b) return b;
            return null;
        }
    }

    public override void Split(ReadOnlySpan<char> text, int start, int end, List<(int Start, int End)> output)
    {
        var current = new List<(int, int)> { (start, end) };
        var next = new List<(int, int)>();
        foreach (var p in PreTokenizers)
        {
            next.Clear();
            foreach (var (s, e) in current) p.Split(text, s, e, next);
            (current, next) = (next, current);
        }
        output.AddRange(current);
    }

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "Sequence");
        writer.WriteStartArray("pretokenizers");
        foreach (var p in PreTokenizers) p.Write(writer);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
