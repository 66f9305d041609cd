using Retro.Tokenizers.Pipeline;

namespace Retro.Tokenizers;

public sealed partial class Tokenizer
{
    /// <summary>
    /// GPT-2 style byte-level BPE: ByteLevel pre-tokenizer (GPT-2 pattern), BPE by merge rank, ByteLevel decoder.
    /// <paramref name="vocab"/> must hold the 256 byte characters that occur and every merge result.
    /// </summary>
    /// <exception cref="TokenizerFormatException">A merge names a token missing from <paramref name="vocab"/>.</exception>
    public static Tokenizer CreateByteLevelBpe(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges,
        IEnumerable<AddedToken>? addedTokens = null, bool addPrefixSpace = false)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        ArgumentNullException.ThrowIfNull(merges);
        return new Tokenizer(null, new ByteLevelPreTokenizer(addPrefixSpace, trimOffsets: true, useRegex: true), new BpeModel(vocab, merges),
            new PostProcessor("ByteLevel", PostProcessor.Identity.Single, PostProcessor.Identity.Pair, PostProcessor.Identity.SpecialTokens, ByteLevelPostProcessorJson(addPrefixSpace)),
            new ByteLevelDecoder(), (addedTokens ?? []).ToList());
    }

    /// <summary>
    /// BERT style WordPiece: BertNormalizer (clean text, CJK padding, <paramref name="lowercase"/>, accents stripped
    /// when <paramref name="stripAccents"/> or, if null, when lower-casing), BertPreTokenizer, WordPiece with "##",
    /// BERT's [CLS]/[SEP] template when both are in <paramref name="vocab"/>, WordPiece decoder. [PAD], [UNK], [CLS],
    /// [SEP] and [MASK] present in <paramref name="vocab"/> become special added tokens.
    /// </summary>
    /// <exception cref="TokenizerFormatException"><paramref name="unkToken"/> is not in <paramref name="vocab"/>.</exception>
    public static Tokenizer CreateWordPiece(IReadOnlyDictionary<string, int> vocab, bool lowercase = true, bool? stripAccents = null,
        string unkToken = "[UNK]", int maxInputCharsPerWord = 100)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        var added = new List<AddedToken>();
        foreach (string special in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
        {
            if (vocab.TryGetValue(special, out int id)) added.Add(new AddedToken(id, special));
        }
        added.Sort((a, b) => a.Id.CompareTo(b.Id));
        PostProcessor? post = vocab.TryGetValue("[CLS]", out int cls) && vocab.TryGetValue("[SEP]", out int sep)
            ? PostProcessor.Bert("[CLS]", cls, "[SEP]", sep) : null;
        return new Tokenizer(new BertNormalizer(true, true, stripAccents, lowercase), new BertPreTokenizer(),
            new WordPieceModel(vocab, unkToken, "##", maxInputCharsPerWord), post, new WordPieceDecoder("##", true), added);
    }

    private static System.Text.Json.JsonElement ByteLevelPostProcessorJson(bool addPrefixSpace) =>
        System.Text.Json.JsonDocument.Parse(
            $"{{\"type\":\"ByteLevel\",\"add_prefix_space\":{(addPrefixSpace ? "true" : "false")},\"trim_offsets\":false,\"use_regex\":true}}").RootElement.Clone();
}
