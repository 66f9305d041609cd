using System.Text.Json;

namespace Retro.Tokenizers.Pipeline;

/// <summary>
/// Adds special tokens around one or two encoded sequences and assigns type ids. <c>BertProcessing</c>,
/// <c>RobertaProcessing</c> and <c>TemplateProcessing</c> are all templates; <c>ByteLevel</c> (offset trimming only)
/// adds nothing.
/// </summary>
internal sealed class PostProcessor
{
    /// <summary>One template element: a sequence (A or B) or a special token, with its type id.</summary>
    public readonly record struct Piece(bool IsSequence, string Name, int TypeId);

    /// <summary>A special token of the template: its name and the ids it expands to.</summary>
    public sealed record SpecialToken(string Name, int[] Ids, string[] Tokens);

    public PostProcessor(string kind, Piece[] single, Piece[] pair, IReadOnlyDictionary<string, SpecialToken> specialTokens, JsonElement? original = null)
    {
        Kind = kind;
        Single = single;
        Pair = pair;
        SpecialTokens = specialTokens;
        Original = original;
        foreach (var piece in single.Concat(pair))
        {
            if (!piece.IsSequence && !specialTokens.ContainsKey(piece.Name))
                throw new TokenizerFormatException($"post_processor {kind}: template token '{piece.Name}' is missing from special_tokens.");
        }
    }

    /// <summary>Hugging Face type name: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel or Sequence.</summary>
    public string Kind { get; }
    public Piece[] Single { get; }
    public Piece[] Pair { get; }
    public IReadOnlyDictionary<string, SpecialToken> SpecialTokens { get; }

    /// <summary>The JSON this processor was read from, written back unchanged (null when built in code).</summary>
    public JsonElement? Original { get; }

    /// <summary>A processor that adds nothing (Hugging Face's behaviour without a post-processor).</summary>
    public static PostProcessor Identity { get; } = new("None", [new(true, "A", 0)], [new(true, "A", 0), new(true, "B", 1)],
        new Dictionary<string, SpecialToken>());

    /// <summary>BERT's <c>[CLS] A [SEP]</c> / <c>[CLS] A [SEP] B [SEP]</c> with type ids 0 then 1.</summary>
    public static PostProcessor Bert(string cls, int clsId, string sep, int sepId, string kind = "TemplateProcessing") =>
        new(kind,
            [new(false, cls, 0), new(true, "A", 0), new(false, sep, 0)],
            [new(false, cls, 0), new(true, "A", 0), new(false, sep, 0), new(true, "B", 1), new(false, sep, 1)],
            new Dictionary<string, SpecialToken> { [cls] = new(cls, [clsId], [cls]), [sep] = new(sep, [sepId], [sep]) });

    /// <summary>RoBERTa's <c>&lt;s&gt; A &lt;/s&gt;</c> / <c>&lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt;</c>, all type ids 0.</summary>
    public static PostProcessor Roberta(string cls, int clsId, string sep, int sepId, JsonElement? original) =>
        new("RobertaProcessing",
            [new(false, cls, 0), new(true, "A", 0), new(false, sep, 0)],
            [new(false, cls, 0), new(true, "A", 0), new(false, sep, 0), new(false, sep, 0), new(true, "B", 0), new(false, sep, 0)],
            new Dictionary<string, SpecialToken> { [cls] = new(cls, [clsId], [cls]), [sep] = new(sep, [sepId], [sep]) }, original);

    /// <summary>Number of ids the template adds for a single sequence or a pair.</summary>
    public int AddedTokens(bool pair)
    {
        int n = 0;
        foreach (var piece in pair ? Pair : Single) if (!piece.IsSequence) n += SpecialTokens[piece.Name].Ids.Length;
        return n;
    }

    /// <summary>Applies the template to <paramref name="a"/> (and <paramref name="b"/>), writing ids and type ids.</summary>
    public void Apply(IReadOnlyList<int> a, IReadOnlyList<int>? b, List<int> ids, List<int> typeIds)
    {
        foreach (var piece in b is null ? Single : Pair)
        {
            if (piece.IsSequence)
            {
                var seq = piece.Name == "B" ? b! : a;
                foreach (int id in seq)
                {
                    ids.Add(id);
                    typeIds.Add(piece.TypeId);
                }
            }
            else
            {
                foreach (int id in SpecialTokens[piece.Name].Ids)
                {
                    ids.Add(id);
                    typeIds.Add(piece.TypeId);
                }
            }
        }
    }

    public void Write(Utf8JsonWriter writer)
    {
        if (Original is { } json)
        {
            json.WriteTo(writer);
            return;
        }
        if (Kind == "BertProcessing")
        {
            writer.WriteStartObject();
            writer.WriteString("type", "BertProcessing");
            WritePair(writer, "sep", SpecialTokens[Single[2].Name]);
            WritePair(writer, "cls", SpecialTokens[Single[0].Name]);
            writer.WriteEndObject();
            return;
        }
        writer.WriteStartObject();
        writer.WriteString("type", "TemplateProcessing");
        WriteTemplate(writer, "single", Single);
        WriteTemplate(writer, "pair", Pair);
        writer.WriteStartObject("special_tokens");
        foreach (var (name, token) in SpecialTokens.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            writer.WriteStartObject(name);
            writer.WriteString("id", token.Name);
            writer.WriteStartArray("ids");
            foreach (int id in token.Ids) writer.WriteNumberValue(id);
            writer.WriteEndArray();
            writer.WriteStartArray("tokens");
            foreach (string t in token.Tokens) writer.WriteStringValue(t);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WritePair(Utf8JsonWriter writer, string name, SpecialToken token)
    {
        writer.WriteStartArray(name);
        writer.WriteStringValue(token.Name);
        writer.WriteNumberValue(token.Ids[0]);
        writer.WriteEndArray();
    }

    private static void WriteTemplate(Utf8JsonWriter writer, string name, Piece[] pieces)
    {
        writer.WriteStartArray(name);
        foreach (var piece in pieces)
        {
            writer.WriteStartObject();
            writer.WriteStartObject(piece.IsSequence ? "Sequence" : "SpecialToken");
            writer.WriteString("id", piece.Name);
            writer.WriteNumber("type_id", piece.TypeId);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }
}
