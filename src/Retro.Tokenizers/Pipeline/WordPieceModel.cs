using System.Text.Json;

namespace Retro.Tokenizers.Pipeline;

/// <summary>
/// BERT's WordPiece: greedy longest-match-first over a word, continuation pieces prefixed (<c>##</c>); a word longer
/// than <see cref="MaxInputCharsPerWord"/> code points, or one that cannot be covered, becomes the unknown token.
/// </summary>
internal sealed class WordPieceModel : TokenModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly string[] _tokens;
    private readonly int _unkId;

    public WordPieceModel(IReadOnlyDictionary<string, int> vocab, string unkToken = "[UNK]", string continuingSubwordPrefix = "##",
        int maxInputCharsPerWord = 100)
    {
        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        _lookup = _vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _tokens = InvertVocabulary(_vocab, "WordPiece");
        if (!_vocab.TryGetValue(unkToken, out _unkId))
            throw new TokenizerFormatException($"WordPiece unk_token '{unkToken}' is not in the vocabulary.");
        if (maxInputCharsPerWord <= 0) throw new TokenizerFormatException("WordPiece max_input_chars_per_word must be positive.");
        UnkToken = unkToken;
        ContinuingSubwordPrefix = continuingSubwordPrefix;
        MaxInputCharsPerWord = maxInputCharsPerWord;
    }

    public string UnkToken { get; }
    public string ContinuingSubwordPrefix { get; }
    public int MaxInputCharsPerWord { get; }

    public override int VocabularySize => _tokens.Length;

    public override int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public override string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    public override void Tokenize(ReadOnlySpan<char> piece, List<int> ids, List<(int Start, int End)>? offsets)
    {
        if (piece.IsEmpty) return;
        int codePoints = 0;
        for (int i = 0; i < piece.Length; i++) if (!char.IsLowSurrogate(piece[i]) || i == 0 || !char.IsHighSurrogate(piece[i - 1])) codePoints++;
        if (codePoints > MaxInputCharsPerWord)
        {
            AddUnknown(piece.Length, ids, offsets);
            return;
        }
        int prefix = ContinuingSubwordPrefix.Length;
        Span<char> scratch = piece.Length + prefix <= 512 ? stackalloc char[piece.Length + prefix] : new char[piece.Length + prefix];
        ContinuingSubwordPrefix.AsSpan().CopyTo(scratch);
        int firstNew = ids.Count, firstOffset = offsets?.Count ?? 0;
        for (int start = 0; start < piece.Length;)
        {
            int skip = start == 0 ? prefix : 0; // scratch = prefix + piece[start..]; the first piece has no prefix
            piece[start..].CopyTo(scratch[prefix..]);
            int found = -1, end = piece.Length;
            for (; end > start; end--)
            {
                if (end < piece.Length && char.IsLowSurrogate(piece[end]) && char.IsHighSurrogate(piece[end - 1])) continue;
                if (_lookup.TryGetValue(scratch[skip..(prefix + end - start)], out int id))
                {
                    found = id;
                    break;
                }
            }
            if (found < 0)
            {
                ids.RemoveRange(firstNew, ids.Count - firstNew);
                offsets?.RemoveRange(firstOffset, offsets.Count - firstOffset);
                AddUnknown(piece.Length, ids, offsets);
                return;
            }
            ids.Add(found);
            offsets?.Add((start, end));
            start = end;
        }
    }

    private void AddUnknown(int length, List<int> ids, List<(int Start, int End)>? offsets)
    {
        ids.Add(_unkId);
        offsets?.Add((0, length));
    }

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "WordPiece");
        writer.WriteString("unk_token", UnkToken);
        writer.WriteString("continuing_subword_prefix", ContinuingSubwordPrefix);
        writer.WriteNumber("max_input_chars_per_word", MaxInputCharsPerWord);
        WriteVocabulary(writer, _tokens);
        writer.WriteEndObject();
    }
}
