using System.Text;
using System.Text.Json;

namespace Retro.Tokenizers.Pipeline;

/// <summary>Reads and writes Hugging Face <c>tokenizer.json</c> (format version 1.0).</summary>
internal static class TokenizerJson
{
    public static Tokenizer Read(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Fail(source, "the root is not a JSON object");
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedJson) && addedJson.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in addedJson.EnumerateArray())
            {
                added.Add(new AddedToken(
                    Int(t, "id", source, "added_tokens"), Str(t, "content", source, "added_tokens"),
                    Bool(t, "special", false), Bool(t, "single_word", false), Bool(t, "lstrip", false), Bool(t, "rstrip", false),
                    Bool(t, "normalized", false)));
            }
        }
        if (!root.TryGetProperty("model", out var modelJson) || modelJson.ValueKind != JsonValueKind.Object) throw Fail(source, "it has no 'model' object");
        var model = ReadModel(modelJson, source);
        var normalizer = Optional(root, "normalizer") is { } n ? ReadNormalizer(n, source) : null;
        var preTokenizer = Optional(root, "pre_tokenizer") is { } p ? ReadPreTokenizer(p, source) : null;
        var decoder = Optional(root, "decoder") is { } d ? ReadDecoder(d, source) : null;
        int? padId = Optional(root, "padding") is { } pad && pad.TryGetProperty("pad_id", out var padIdJson) ? padIdJson.GetInt32() : null;

        // Post-processor ids refer to the vocabulary, so resolve them with a tokenizer that has none.
        var draft = new Tokenizer(normalizer, preTokenizer, model, null, decoder, added, padId);
        var post = Optional(root, "post_processor") is { } pp ? ReadPostProcessor(pp, source, draft) : null;
        return new Tokenizer(normalizer, preTokenizer, model, post, decoder, added, padId);
    }

    public static void Write(Tokenizer tokenizer, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("version", "1.0");
        writer.WriteNull("truncation");
        if (tokenizer.PadIdSetting is { } padId)
        {
            writer.WriteStartObject("padding");
            writer.WriteString("strategy", "BatchLongest");
            writer.WriteString("direction", "Right");
            writer.WriteNull("pad_to_multiple_of");
            writer.WriteNumber("pad_id", padId);
            writer.WriteNumber("pad_type_id", 0);
            writer.WriteString("pad_token", tokenizer.IdToToken(padId));
            writer.WriteEndObject();
        }
        else writer.WriteNull("padding");
        writer.WriteStartArray("added_tokens");
        foreach (var t in tokenizer.AddedTokens)
        {
            writer.WriteStartObject();
            writer.WriteNumber("id", t.Id);
            writer.WriteString("content", t.Content);
            writer.WriteBoolean("single_word", t.SingleWord);
            writer.WriteBoolean("lstrip", t.LStrip);
            writer.WriteBoolean("rstrip", t.RStrip);
            writer.WriteBoolean("normalized", t.Normalized);
            writer.WriteBoolean("special", t.Special);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WritePropertyName("normalizer");
        if (tokenizer.Normalizer is null) writer.WriteNullValue(); else tokenizer.Normalizer.Write(writer);
        writer.WritePropertyName("pre_tokenizer");
        if (tokenizer.PreTokenizer is null) writer.WriteNullValue(); else tokenizer.PreTokenizer.Write(writer);
        writer.WritePropertyName("post_processor");
        if (tokenizer.PostProcessor is null) writer.WriteNullValue(); else tokenizer.PostProcessor.Write(writer);
        writer.WritePropertyName("decoder");
        if (tokenizer.DecoderComponent is null) writer.WriteNullValue(); else tokenizer.DecoderComponent.Write(writer);
        writer.WritePropertyName("model");
        tokenizer.Model.Write(writer);
        writer.WriteEndObject();
    }

    // ---- model ---------------------------------------------------------------------------------------------------

    private static TokenModel ReadModel(JsonElement json, string source)
    {
        string type = json.TryGetProperty("type", out var t) ? t.GetString() ?? "" :
            json.TryGetProperty("merges", out _) ? "BPE" :
            json.TryGetProperty("max_input_chars_per_word", out _) ? "WordPiece" : "";
        var vocab = ReadVocab(json, source, type);
        switch (type)
        {
            case "BPE":
                if (Optional(json, "dropout") is { } dropout && dropout.GetDouble() != 0) throw Unsupported(source, "model BPE with dropout");
                if (OptionalString(json, "continuing_subword_prefix") is { Length: > 0 }) throw Unsupported(source, "model BPE with continuing_subword_prefix");
                if (OptionalString(json, "end_of_word_suffix") is { Length: > 0 }) throw Unsupported(source, "model BPE with end_of_word_suffix");
                if (Bool(json, "byte_fallback", false)) throw Unsupported(source, "model BPE with byte_fallback = true");
                var merges = new List<(string, string)>();
                if (json.TryGetProperty("merges", out var mergesJson))
                {
                    foreach (var m in mergesJson.EnumerateArray())
                    {
                        if (m.ValueKind == JsonValueKind.String)
                        {
                            string s = m.GetString()!;
                            int space = s.IndexOf(' ');
                            if (space <= 0 || space == s.Length - 1 || s.IndexOf(' ', space + 1) >= 0)
                                throw Fail(source, $"model BPE merge \"{s}\" is not two tokens separated by one space");
                            merges.Add((s[..space], s[(space + 1)..]));
                        }
                        else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2)
                        {
                            merges.Add((m[0].GetString()!, m[1].GetString()!));
                        }
                        else throw Fail(source, "model BPE merges must be \"a b\" strings or [a, b] pairs");
                    }
                }
                return new BpeModel(vocab, merges, OptionalString(json, "unk_token"), Bool(json, "fuse_unk", false), Bool(json, "ignore_merges", false));
            case "WordPiece":
                return new WordPieceModel(vocab, OptionalString(json, "unk_token") ?? "[UNK]",
                    OptionalString(json, "continuing_subword_prefix") ?? "##",
                    json.TryGetProperty("max_input_chars_per_word", out var max) ? max.GetInt32() : 100);
            default:
                throw Unsupported(source, $"model '{type}' (only BPE and WordPiece are implemented)");
        }
    }

    private static Dictionary<string, int> ReadVocab(JsonElement json, string source, string type)
    {
        if (!json.TryGetProperty("vocab", out var vocabJson) || vocabJson.ValueKind != JsonValueKind.Object)
            throw Fail(source, $"model {type} has no 'vocab' object");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in vocabJson.EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();
        return vocab;
    }

    // ---- normalizer, pre-tokenizer, post-processor, decoder ------------------------------------------------------

    private static Normalizer ReadNormalizer(JsonElement json, string source)
    {
        string type = Str(json, "type", source, "normalizer");
        return type switch
        {
            "BertNormalizer" => new BertNormalizer(Bool(json, "clean_text", true), Bool(json, "handle_chinese_chars", true),
                Optional(json, "strip_accents")?.GetBoolean(), Bool(json, "lowercase", true)),
            "NFC" => new UnicodeFormNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeFormNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeFormNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeFormNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "StripAccents" => new StripAccentsNormalizer(),
            "Sequence" => new SequenceNormalizer(Array(json, "normalizers", source).Select(n => ReadNormalizer(n, source)).ToList()),
            _ => throw Unsupported(source, $"normalizer '{type}'"),
        };
    }

    private static PreTokenizer ReadPreTokenizer(JsonElement json, string source)
    {
        string type = Str(json, "type", source, "pre_tokenizer");
        return type switch
        {
            "ByteLevel" => new ByteLevelPreTokenizer(Bool(json, "add_prefix_space", true), Bool(json, "trim_offsets", true), Bool(json, "use_regex", true)),
            "BertPreTokenizer" => new BertPreTokenizer(),
            "Whitespace" => new WhitespacePreTokenizer(),
            "WhitespaceSplit" => new WhitespaceSplitPreTokenizer(),
            "Sequence" => new SequencePreTokenizer(Array(json, "pretokenizers", source).Select(p => ReadPreTokenizer(p, source)).ToList()),
            _ => throw Unsupported(source, $"pre_tokenizer '{type}'"),
        };
    }

    private static PostProcessor? ReadPostProcessor(JsonElement json, string source, Tokenizer vocab)
    {
        string type = Str(json, "type", source, "post_processor");
        switch (type)
        {
            case "BertProcessing":
            {
                var (sep, sepId) = TokenPair(json, "sep", source);
                var (cls, clsId) = TokenPair(json, "cls", source);
                return PostProcessor.Bert(cls, clsId, sep, sepId, "BertProcessing");
            }
            case "RobertaProcessing":
            {
                var (sep, sepId) = TokenPair(json, "sep", source);
                var (cls, clsId) = TokenPair(json, "cls", source);
                return PostProcessor.Roberta(cls, clsId, sep, sepId, json.Clone());
            }
            case "TemplateProcessing":
                return ReadTemplate(json, source, vocab);
            case "ByteLevel":
                return new PostProcessor("ByteLevel", PostProcessor.Identity.Single, PostProcessor.Identity.Pair,
                    PostProcessor.Identity.SpecialTokens, json.Clone());
            case "Sequence":
            {
                PostProcessor? template = null;
                foreach (var p in Array(json, "processors", source))
                {
                    var inner = ReadPostProcessor(p, source, vocab);
                    if (inner is null || inner.Kind == "ByteLevel") continue;
                    if (template is not null) throw Unsupported(source, "post_processor Sequence with more than one template");
                    template = inner;
                }
                var t = template ?? PostProcessor.Identity;
                return new PostProcessor("Sequence", t.Single, t.Pair, t.SpecialTokens, json.Clone());
            }
            default:
                throw Unsupported(source, $"post_processor '{type}'");
        }
    }

    private static PostProcessor ReadTemplate(JsonElement json, string source, Tokenizer vocab)
    {
        var special = new Dictionary<string, PostProcessor.SpecialToken>(StringComparer.Ordinal);
        if (Optional(json, "special_tokens") is { } specialJson)
        {
            foreach (var p in specialJson.EnumerateObject())
            {
                var ids = p.Value.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
                var tokens = p.Value.GetProperty("tokens").EnumerateArray().Select(x => x.GetString()!).ToArray();
                special[p.Name] = new PostProcessor.SpecialToken(p.Value.TryGetProperty("id", out var id) ? id.GetString()! : p.Name, ids, tokens);
            }
        }
        PostProcessor.Piece[] Template(string name)
        {
            if (!json.TryGetProperty(name, out var t)) throw Fail(source, $"post_processor TemplateProcessing has no '{name}' template");
            var pieces = new List<PostProcessor.Piece>();
            if (t.ValueKind == JsonValueKind.String)
            {
                foreach (string part in t.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    int colon = part.LastIndexOf(':');
                    int typeId = colon > 0 && int.TryParse(part[(colon + 1)..], out int parsed) ? parsed : 0;
                    string body = colon > 0 && int.TryParse(part[(colon + 1)..], out _) ? part[..colon] : part;
                    if (body is "$A" or "$" or "$0") pieces.Add(new(true, "A", typeId));
                    else if (body is "$B" or "$1") pieces.Add(new(true, "B", typeId));
                    else
                    {
                        pieces.Add(new(false, body, typeId));
                        if (!special.ContainsKey(body) && vocab.TokenToId(body) is { } tokenId) special[body] = new(body, [tokenId], [body]);
                    }
                }
                return pieces.ToArray();
            }
            foreach (var item in t.EnumerateArray())
            {
                if (item.TryGetProperty("Sequence", out var seq))
                    pieces.Add(new(true, seq.GetProperty("id").GetString() == "B" ? "B" : "A", seq.GetProperty("type_id").GetInt32()));
                else if (item.TryGetProperty("SpecialToken", out var sp))
                    pieces.Add(new(false, sp.GetProperty("id").GetString()!, sp.GetProperty("type_id").GetInt32()));
                else throw Fail(source, "post_processor TemplateProcessing has a template element that is neither Sequence nor SpecialToken");
            }
            return pieces.ToArray();
        }
        return new PostProcessor("TemplateProcessing", Template("single"), Template("pair"), special);
    }

    private static Decoder ReadDecoder(JsonElement json, string source)
    {
        string type = Str(json, "type", source, "decoder");
        return type switch
        {
            "ByteLevel" => new ByteLevelDecoder(Bool(json, "add_prefix_space", true), Bool(json, "trim_offsets", true), Bool(json, "use_regex", true)),
            "WordPiece" => new WordPieceDecoder(OptionalString(json, "prefix") ?? "##", Bool(json, "cleanup", true)),
            _ => throw Unsupported(source, $"decoder '{type}'"),
        };
    }

    // ---- JSON helpers ----------------------------------------------------------------------------------------------

    private static (string Token, int Id) TokenPair(JsonElement json, string name, string source)
    {
        if (!json.TryGetProperty(name, out var pair) || pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2)
            throw Fail(source, $"post_processor '{name}' must be a [token, id] pair");
        return (pair[0].GetString()!, pair[1].GetInt32());
    }

    private static JsonElement? Optional(JsonElement json, string name) =>
        json.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static string? OptionalString(JsonElement json, string name) => Optional(json, name)?.GetString();

    private static bool Bool(JsonElement json, string name, bool fallback) =>
        Optional(json, name) is { } v ? v.GetBoolean() : fallback;

    private static int Int(JsonElement json, string name, string source, string where) =>
        Optional(json, name) is { ValueKind: JsonValueKind.Number } v ? v.GetInt32() : throw Fail(source, $"{where}: '{name}' is missing or not a number");

    private static string Str(JsonElement json, string name, string source, string where) =>
        Optional(json, name) is { ValueKind: JsonValueKind.String } v ? v.GetString()! : throw Fail(source, $"{where}: '{name}' is missing or not a string");

    private static IEnumerable<JsonElement> Array(JsonElement json, string name, string source) =>
        Optional(json, name) is { ValueKind: JsonValueKind.Array } v ? v.EnumerateArray() : throw Fail(source, $"Sequence has no '{name}' array");

    private static TokenizerFormatException Fail(string source, string problem) => new($"{source}: {problem}.");

    private static TokenizerFormatException Unsupported(string source, string component) =>
        new($"{source}: unsupported component: {component}.");
}
