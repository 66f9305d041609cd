using System.Text;
using System.Text.Json;

namespace Retro.Tokenizers.Pipeline;

/// <summary>A Hugging Face decoder: token strings back to text.</summary>
internal abstract class Decoder
{
    /// <summary>Decodes <paramref name="tokens"/>; <c>IsAdded</c> marks added tokens, whose content is literal text.</summary>
    public abstract string Decode(IReadOnlyList<(string Token, bool IsAdded)> tokens);

    public abstract void Write(Utf8JsonWriter writer);
}

/// <summary>GPT-2's byte-level decoder: characters to bytes through the byte table, then UTF-8 (invalid bytes → U+FFFD).</summary>
internal sealed class ByteLevelDecoder(bool addPrefixSpace = true, bool trimOffsets = true, bool useRegex = true) : Decoder
{
    // Kept for writing only: Hugging Face's ByteLevel decoder ignores them too.
    public bool AddPrefixSpace { get; } = addPrefixSpace;
    public bool TrimOffsets { get; } = trimOffsets;
    public bool UseRegex { get; } = useRegex;

    public override string Decode(IReadOnlyList<(string Token, bool IsAdded)> tokens)
    {
        var bytes = new List<byte>(tokens.Count * 4);
        foreach (var (token, isAdded) in tokens)
        {
            if (!isAdded && TryMapBytes(token, bytes)) continue;
            bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    private static bool TryMapBytes(string token, List<byte> bytes)
    {
        int mark = bytes.Count;
        foreach (char c in token)
        {
            int b = ByteLevelAlphabet.CharToByte(c);
            if (b < 0)
            {
                bytes.RemoveRange(mark, bytes.Count - mark);
                return false;
            }
            bytes.Add((byte)b);
        }
        return true;
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

/// <summary>BERT's WordPiece decoder: join with spaces, glue continuation pieces, optionally clean up spaces.</summary>
internal sealed class WordPieceDecoder(string prefix, bool cleanup) : Decoder
{
    public string Prefix { get; } = prefix;
    public bool Cleanup { get; } = cleanup;

    public override string Decode(IReadOnlyList<(string Token, bool IsAdded)> tokens)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i].Token;
            if (i > 0)
            {
                if (token.StartsWith(Prefix, StringComparison.Ordinal)) token = token[Prefix.Length..];
                else sb.Append(' ');
            }
            sb.Append(token);
        }
        return Cleanup ? CleanUp(sb) : sb.ToString();
    }

    /// <summary>Hugging Face's <c>cleanup</c>: remove spaces before punctuation and in English contractions.</summary>
    internal static string CleanUp(StringBuilder sb) => sb
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" do not", " don't").Replace(" 's", "'s")
        .Replace(" 've", "'ve").Replace(" 're", "'re").ToString();

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "WordPiece");
        writer.WriteString("prefix", Prefix);
        writer.WriteBoolean("cleanup", Cleanup);
        writer.WriteEndObject();
    }
}

/// <summary>No decoder: tokens joined with single spaces (Hugging Face's default).</summary>
internal sealed class JoinDecoder : Decoder
{
    public static JoinDecoder Instance { get; } = new();

    public override string Decode(IReadOnlyList<(string Token, bool IsAdded)> tokens)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < tokens.Count; i++)
        {
            if (i > 0) sb.Append(' ');
            sb.Append(tokens[i].Token);
        }
        return sb.ToString();
    }

    public override void Write(Utf8JsonWriter writer) => writer.WriteNullValue();
}
