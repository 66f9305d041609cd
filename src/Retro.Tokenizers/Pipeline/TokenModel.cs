using System.Text.Json;

namespace Retro.Tokenizers.Pipeline;

/// <summary>A Hugging Face model: one pre-tokenized piece to ids.</summary>
internal abstract class TokenModel
{
    /// <summary>Largest id of the model's vocabulary + 1.</summary>
    public abstract int VocabularySize { get; }

    /// <summary>
    /// Tokenizes <paramref name="piece"/>, appending ids and, when <paramref name="offsets"/> is not null, the
    /// [start, end) range of <paramref name="piece"/> each id covers.
    /// </summary>
    public abstract void Tokenize(ReadOnlySpan<char> piece, List<int> ids, List<(int Start, int End)>? offsets);

    public abstract int? TokenToId(string token);

    public abstract string? IdToToken(int id);

    public abstract void Write(Utf8JsonWriter writer);

    protected static string[] InvertVocabulary(IReadOnlyDictionary<string, int> vocab, string model)
    {
        int max = -1;
        foreach (var (_, id) in vocab)
        {
            if (id < 0) throw new TokenizerFormatException($"{model} vocabulary has a negative id {id}.");
            max = Math.Max(max, id);
        }
        var tokens = new string[max + 1];
        foreach (var (token, id) in vocab)
        {
            if (tokens[id] is not null) throw new TokenizerFormatException($"{model} vocabulary gives id {id} to both '{tokens[id]}' and '{token}'.");
            tokens[id] = token;
        }
        return tokens;
    }

    protected static void WriteVocabulary(Utf8JsonWriter writer, string[] tokens)
    {
        writer.WriteStartObject("vocab");
        for (int id = 0; id < tokens.Length; id++)
        {
            if (tokens[id] is { } t) writer.WriteNumber(t, id);
        }
        writer.WriteEndObject();
    }
}
