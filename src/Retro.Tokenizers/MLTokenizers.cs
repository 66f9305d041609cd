using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using Retro.Tokenizers.Pipeline;
using MLTokenizer = Microsoft.ML.Tokenizers.Tokenizer;

namespace Retro.Tokenizers;

/// <summary>
/// A Retro tokenizer as its <c>Microsoft.ML.Tokenizers</c> twin, built from the same vocabulary (and merges): for code
/// that expects the library's <see cref="MLTokenizer"/>, and as the parity oracle and benchmark peer of our own
/// encoders. Byte-level BPE becomes a <see cref="BpeTokenizer"/> (byte level, the GPT-2 pattern as its pre-tokenizer,
/// special added tokens split off): the same ids as ours on every text measured. WordPiece becomes a
/// <see cref="BertTokenizer"/> with a pre-tokenizer of BERT's own rule (whitespace, then every ASCII or Unicode
/// punctuation character alone; the library's default drops other symbols such as <c>$</c> and <c>+</c>); it still
/// differs from BERT (and ours) where the library does: it strips no accents under invariant globalization (its
/// normalization is the runtime's, a no-op there), keeps format characters (U+200B, U+00AD) that BERT removes,
/// continues a word across a line break, and looks for special tokens only after lower-casing. See <c>tests/Retro.Benchmarks/README.md</c>, section tokenizer.
/// </summary>
public static class MLTokenizers
{
    /// <summary>BERT's pre-tokenization: runs of non-space, non-punctuation characters, and each punctuation character alone.</summary>
    public const string BertPattern = @"[\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]|[^\s\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]+";

    /// <summary>The library tokenizer with <paramref name="tokenizer"/>'s vocabulary and rules.</summary>
    /// <exception cref="NotSupportedException">A component has no equivalent in the library (e.g. a prefix space, non-special added tokens).</exception>
    public static MLTokenizer Create(Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return tokenizer.Model switch
        {
            BpeModel bpe => CreateBpe(tokenizer, bpe),
            WordPieceModel wordPiece => CreateWordPiece(tokenizer, wordPiece),
            _ => throw new NotSupportedException($"No Microsoft.ML.Tokenizers equivalent for a {tokenizer.Model.GetType().Name}."),
        };
    }

    private static BpeTokenizer CreateBpe(Tokenizer tokenizer, BpeModel model)
    {
        if (tokenizer.PreTokenizer?.ByteLevel is not { AddPrefixSpace: false, UseRegex: true } || tokenizer.Normalizer is not null || model.UnkToken is not null)
            throw new NotSupportedException("Only byte-level BPE with the GPT-2 pattern, no prefix space, no normalizer and no unknown token has a Microsoft.ML.Tokenizers equivalent.");
        var vocabulary = new Dictionary<string, int>(model.VocabularySize, StringComparer.Ordinal);
        for (int id = 0; id < model.VocabularySize; id++)
        {
            if (model.IdToToken(id) is { } token) vocabulary[token] = id;
        }
        var merges = new List<string>(model.MergeCount);
        for (int rank = 0; rank < model.MergeCount; rank++)
        {
            var (left, right) = model.Merge(rank);
            merges.Add(string.Concat(left, " ", right));
        }
        var special = SpecialTokens(tokenizer);
        return BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = special,
            PreTokenizer = new RegexPreTokenizer(new Regex(Gpt2PreTokenizer.Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant), special),
        });
    }

    private static BertTokenizer CreateWordPiece(Tokenizer tokenizer, WordPieceModel model)
    {
        if (tokenizer.Normalizer is not BertNormalizer normalizer || tokenizer.PreTokenizer is not BertPreTokenizer)
            throw new NotSupportedException("Only WordPiece with BERT's normalizer and pre-tokenizer has a Microsoft.ML.Tokenizers equivalent.");
        var vocabulary = new StringBuilder();
        for (int id = 0; id < model.VocabularySize; id++)
        {
            string token = model.IdToToken(id) ?? throw new NotSupportedException($"The WordPiece vocabulary has no id {id}; the library reads a gap-free vocab.txt.");
            vocabulary.Append(token).Append('\n');
        }
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(vocabulary.ToString()));
        var special = SpecialTokens(tokenizer);
        return BertTokenizer.Create(stream, new BertOptions
        {
            LowerCaseBeforeTokenization = normalizer.Lowercase,
            RemoveNonSpacingMarks = normalizer.StripAccents ?? normalizer.Lowercase,
            IndividuallyTokenizeCjk = normalizer.HandleChineseChars,
            ApplyBasicTokenization = true,
            SplitOnSpecialTokens = true,
            SpecialTokens = special,
            PreTokenizer = new RegexPreTokenizer(new Regex(BertPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant), special),
            UnknownToken = model.UnkToken,
            ContinuingSubwordPrefix = model.ContinuingSubwordPrefix,
            MaxInputCharsPerWord = model.MaxInputCharsPerWord,
        });
    }

    private static Dictionary<string, int> SpecialTokens(Tokenizer tokenizer)
    {
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var added in tokenizer.AddedTokens)
        {
            if (!added.Special || added.SingleWord || added.LStrip || added.RStrip)
                throw new NotSupportedException($"Added token '{added.Content}' is not a plain special token; Microsoft.ML.Tokenizers has no equivalent.");
            special[added.Content] = added.Id;
        }
        return special;
    }
}
