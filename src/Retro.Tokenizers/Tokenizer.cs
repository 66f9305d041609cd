using System.Runtime.InteropServices;
using System.Text;
using Decoder = Retro.Tokenizers.Pipeline.Decoder;
using Retro.Core;
using Retro.Tokenizers.Pipeline;
using Retro.Tokenizers.Unicode;

namespace Retro.Tokenizers;

/// <summary>
/// A Hugging Face style tokenizer: added tokens matched in the raw text first and never split, then normalizer,
/// pre-tokenizer and model (byte-level BPE or WordPiece) on the text between them; a post-processor adds special
/// tokens for encoder inputs (<see cref="EncodeForModel"/>) and a decoder turns ids back into text. Immutable and
/// thread-safe. Byte-level BPE round-trips every valid UTF-16 string exactly (<c>Decode(Encode(s)) == s</c>); a
/// lone surrogate is encoded as U+FFFD's bytes, so it decodes to U+FFFD.
/// </summary>
public sealed partial class Tokenizer : ITokenizer
{
    private readonly AddedVocabulary _added;
    private readonly ByteLevelPreTokenizer? _byteLevel;
    private readonly Decoder _decoder;
    private readonly int? _padId;

    [ThreadStatic] private static Scratch? t_scratch;

    internal Tokenizer(Normalizer? normalizer, PreTokenizer? preTokenizer, TokenModel model, PostProcessor? postProcessor,
        Decoder? decoder, IReadOnlyList<AddedToken> addedTokens, int? padId = null)
    {
        Normalizer = normalizer;
        PreTokenizer = preTokenizer;
        Model = model;
        PostProcessor = postProcessor;
        DecoderComponent = decoder;
        _decoder = decoder ?? JoinDecoder.Instance;
        _added = new AddedVocabulary(addedTokens);
        _byteLevel = preTokenizer?.ByteLevel;
        _padId = padId;
        VocabularySize = Math.Max(model.VocabularySize, _added.MaxId + 1);
    }

    internal Normalizer? Normalizer { get; }
    internal PreTokenizer? PreTokenizer { get; }
    internal TokenModel Model { get; }
    internal PostProcessor? PostProcessor { get; }
    internal Decoder? DecoderComponent { get; }
    internal int? PadIdSetting => _padId;

    /// <inheritdoc />
    public int VocabularySize { get; }

    /// <summary>The added tokens (special and not), in file order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => _added.Tokens;

    /// <summary>Whether pieces reach the model as GPT-2 byte characters (a <c>ByteLevel</c> pre-tokenizer).</summary>
    public bool IsByteLevel => _byteLevel is not null;

    /// <summary>The padding id: the file's padding setting, else [PAD] or &lt;pad&gt;; null when there is none.</summary>
    public int? PadId => _padId ?? TokenToId("[PAD]") ?? TokenToId("<pad>");

    /// <inheritdoc />
    public int Encode(ReadOnlySpan<char> text, Span<int> destination)
    {
        var scratch = t_scratch ??= new Scratch();
        var ids = scratch.Ids;
        ids.Clear();
        EncodeCore(text, ids, null);
        if (ids.Count > destination.Length) return -ids.Count;
        CollectionsMarshal.AsSpan(ids).CopyTo(destination);
        return ids.Count;
    }

    /// <inheritdoc />
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeCore(text, ids, null);
        return ids.ToArray();
    }

    /// <summary>
    /// Like <see cref="Encode(string)"/> but special added tokens in <paramref name="text"/> are ordinary text (for
    /// untrusted input: "&lt;|endoftext|&gt;" typed by a user does not become the end-of-text id).
    /// </summary>
    public int[] EncodeOrdinary(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeCore(text, ids, null, matchSpecial: false);
        return ids.ToArray();
    }

    /// <inheritdoc />
    public IReadOnlyList<(int Id, Range Offsets)> EncodeWithOffsets(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        var offsets = new List<(int Start, int End)>(ids.Capacity);
        EncodeCore(text, ids, offsets);
        var result = new (int, Range)[ids.Count];
        for (int i = 0; i < result.Length; i++) result[i] = (ids[i], new Range(offsets[i].Start, offsets[i].End));
        return result;
    }

    /// <inheritdoc />
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
    {
        var tokens = new List<(string, bool)>(ids.Length);
        foreach (int id in ids)
        {
            if (_added.ById(id) is { } added)
            {
                if (!(added.Special && skipSpecialTokens)) tokens.Add((added.Content, true));
                continue;
            }
            string token = Model.IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id, $"Id {id} is not in the vocabulary (size {VocabularySize}).");
            tokens.Add((token, false));
        }
        return _decoder.Decode(tokens);
    }

    /// <inheritdoc />
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _added.ByContent(token)?.Id ?? Model.TokenToId(token);
    }

    /// <inheritdoc />
    public string? IdToToken(int id) => _added.ById(id)?.Content ?? Model.IdToToken(id);

    /// <summary>
    /// Encodes <paramref name="text"/> (and <paramref name="pair"/>) for an encoder model: special tokens from the
    /// post-processor (BERT: <c>[CLS] a [SEP]</c> / <c>[CLS] a [SEP] b [SEP]</c>, type ids 0 then 1), truncated
    /// "longest first" to <paramref name="maxLength"/> ids, and padded to <paramref name="maxLength"/> with the pad id
    /// when <paramref name="padToMaxLength"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> cannot hold the special tokens.</exception>
    /// <exception cref="InvalidOperationException">Padding was asked for and the tokenizer has no pad token.</exception>
    public ModelInput EncodeForModel(string text, string? pair = null, int maxLength = 512, bool padToMaxLength = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var post = PostProcessor ?? PostProcessor.Identity;
        int added = post.AddedTokens(pair is not null);
        if (maxLength < added + (pair is null ? 1 : 2))
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"maxLength must leave room for the {added} special tokens and at least one token per sequence.");
        var a = new List<int>(Encode(text));
        List<int>? b = pair is null ? null : new List<int>(Encode(pair));
        int budget = maxLength - added;
        if (b is null)
        {
            if (a.Count > budget) a.RemoveRange(budget, a.Count - budget);
        }
        else
        {
            // Longest first: drop one token at a time from the longer sequence (the pair on ties).
            int la = a.Count, lb = b.Count;
            while (la + lb > budget)
            {
                if (la > lb) la--;
                else lb--;
            }
            a.RemoveRange(la, a.Count - la);
            b.RemoveRange(lb, b.Count - lb);
        }
        var ids = new List<int>(maxLength);
        var types = new List<int>(maxLength);
        post.Apply(a, b, ids, types);
        int real = ids.Count;
        if (padToMaxLength && real < maxLength)
        {
            int pad = PadId ?? throw new InvalidOperationException("Padding needs a pad token ([PAD] or <pad>, or the file's padding.pad_id); this tokenizer has none.");
            while (ids.Count < maxLength)
            {
                ids.Add(pad);
                types.Add(0);
            }
        }
        var mask = new int[ids.Count];
        mask.AsSpan(0, real).Fill(1);
        return new ModelInput(ids.ToArray(), types.ToArray(), mask);
    }

    // ---- encoding pipeline -------------------------------------------------------------------------------------

    private void EncodeCore(ReadOnlySpan<char> text, List<int> ids, List<(int Start, int End)>? offsets, bool matchSpecial = true)
    {
        int pos = 0;
        while (pos < text.Length)
        {
            if (!_added.TryFindNext(text, pos, matchSpecial, out int start, out int end, out var token))
            {
                EncodeSegment(text[pos..], pos, ids, offsets);
                return;
            }
            if (start > pos) EncodeSegment(text[pos..start], pos, ids, offsets);
            ids.Add(token!.Id);
            offsets?.Add((start, end));
            pos = end;
        }
    }

    private void EncodeSegment(ReadOnlySpan<char> segment, int baseOffset, List<int> ids, List<(int Start, int End)>? offsets)
    {
        var scratch = t_scratch ??= new Scratch();
        NormalizedText? normalized = null;
        ReadOnlySpan<char> text = segment;
        if (Normalizer is not null || _byteLevel is { AddPrefixSpace: true })
        {
            normalized = NormalizedText.Identity(segment.ToString());
            if (Normalizer is not null) normalized = Normalizer.Normalize(normalized);
            if (_byteLevel is { AddPrefixSpace: true } && normalized.Text.Length > 0 && normalized.Text[0] != ' ') normalized = PrependSpace(normalized);
            text = normalized.Text;
        }
        var splits = scratch.TakeSplits();
        try
        {
            if (PreTokenizer is null) { if (text.Length > 0) splits.Add((0, text.Length)); }
            else PreTokenizer.Split(text, 0, text.Length, splits);
            var pieceOffsets = offsets is null ? null : scratch.PieceOffsets;
            foreach (var (s, e) in splits)
            {
                var piece = text[s..e];
                pieceOffsets?.Clear();
                if (_byteLevel is null)
                {
                    Model.Tokenize(piece, ids, pieceOffsets);
                    if (offsets is null) continue;
                    foreach (var (ps, pe) in pieceOffsets!) offsets.Add(ToSource(normalized, s + ps, s + pe, baseOffset));
                }
                else
                {
                    int n = scratch.ToByteChars(piece, offsets is not null);
                    Model.Tokenize(scratch.ByteChars.AsSpan(0, n), ids, pieceOffsets);
                    if (offsets is null) continue;
                    foreach (var (bs, be) in pieceOffsets!)
                    {
                        offsets.Add(ToSource(normalized, s + scratch.ByteCharStart[bs], s + scratch.ByteCharEnd[be - 1], baseOffset));
                    }
                }
            }
        }
        finally
        {
            scratch.ReturnSplits(splits);
            scratch.TrimLargeBuffers();
        }
    }

    private static (int Start, int End) ToSource(NormalizedText? normalized, int start, int end, int baseOffset)
    {
        if (normalized is null) return (start + baseOffset, end + baseOffset);
        if (end <= start)
        {
            int at = normalized.SourceStart(Math.Min(start, normalized.Text.Length - 1)) + baseOffset;
            return (at, at);
        }
        var (s, e) = normalized.SourceRange(start, end);
        return (s + baseOffset, e + baseOffset);
    }

    private static NormalizedText PrependSpace(NormalizedText text)
    {
        var builder = new NormalizedBuilder(text.Text.Length + 1);
        int first = text.SourceStart(0);
        builder.Append(' ', first, first);
        for (int i = 0; i < text.Text.Length; i++) builder.Append(text.Text[i], text.SourceStart(i), text.SourceEnd(i));
        return builder.Build();
    }

    /// <summary>Per-thread buffers of the encoding pipeline.</summary>
    private sealed class Scratch
    {
        private readonly Stack<List<(int, int)>> _splits = new();
        public List<int> Ids { get; } = new();
        public List<(int Start, int End)> PieceOffsets { get; } = new();
        public char[] ByteChars = new char[256];
        public int[] ByteCharStart = new int[256];
        public int[] ByteCharEnd = new int[256];

        public List<(int Start, int End)> TakeSplits()
        {
            var list = _splits.Count > 0 ? _splits.Pop() : new List<(int, int)>();
            list.Clear();
            return list;
        }

        public void ReturnSplits(List<(int Start, int End)> list) => _splits.Push(list);

        /// <summary>Drops buffers grown by a huge piece so a thread does not keep megabytes alive.</summary>
        public void TrimLargeBuffers()
        {
            if (ByteChars.Length <= 1 << 16) return;
            ByteChars = new char[256];
            ByteCharStart = new int[256];
            ByteCharEnd = new int[256];
        }

        /// <summary>UTF-8 bytes of <paramref name="piece"/> as byte characters; per byte, the piece's code point range.</summary>
        public int ToByteChars(ReadOnlySpan<char> piece, bool map)
        {
            int max = piece.Length * 3;
            if (ByteChars.Length < max)
            {
                int size = Math.Max(max, ByteChars.Length * 2);
                ByteChars = new char[size];
                ByteCharStart = new int[size];
                ByteCharEnd = new int[size];
            }
            int n = 0;
            Span<byte> utf8 = stackalloc byte[4];
            for (int i = 0; i < piece.Length;)
            {
                char c = piece[i];
                if (c < 0x80)
                {
                    if (map)
                    {
                        ByteCharStart[n] = i;
                        ByteCharEnd[n] = i + 1;
                    }
                    ByteChars[n++] = ByteLevelAlphabet.ByteToChar((byte)c);
                    i++;
                    continue;
                }
                int width = 1;
                Rune rune;
                if (char.IsHighSurrogate(c) && i + 1 < piece.Length && char.IsLowSurrogate(piece[i + 1]))
                {
                    rune = new Rune(c, piece[i + 1]);
                    width = 2;
                }
                else rune = Rune.TryCreate(c, out var r) ? r : Rune.ReplacementChar; // a lone surrogate
                int count = rune.EncodeToUtf8(utf8);
                for (int k = 0; k < count; k++)
                {
                    if (map)
                    {
                        ByteCharStart[n] = i;
                        ByteCharEnd[n] = i + width;
                    }
                    ByteChars[n++] = ByteLevelAlphabet.ByteToChar(utf8[k]);
                }
                i += width;
            }
            return n;
        }
    }
}
