using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;

namespace Retro.Tokenizers.Pipeline;

/// <summary>
/// Byte-pair encoding by merge rank: a piece's symbols (its code points, or GPT-2 byte characters) are merged
/// lowest-rank pair first, leftmost on ties, with a min-heap over a linked list (O(n log n) per piece), and results
/// are cached per piece.
/// </summary>
internal sealed class BpeModel : TokenModel
{
    private const int MaxCacheEntries = 200_000;
    private const int MaxCachedPieceLength = 256;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly string[] _tokens;
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly (int Left, int Right)[] _mergeList;
    private readonly int _unkId = -1;
    private readonly ConcurrentDictionary<string, int[]> _cache = new();
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    private int _cacheCount; // ConcurrentDictionary.Count takes every lock: too slow per word

    [ThreadStatic] private static PriorityQueue<int, long>? t_heap;

    public BpeModel(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges,
        string? unkToken = null, bool fuseUnk = false, bool ignoreMerges = false)
    {
        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        _lookup = _vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        _tokens = InvertVocabulary(_vocab, "BPE");
        UnkToken = unkToken;
        FuseUnk = fuseUnk;
        IgnoreMerges = ignoreMerges;
        if (unkToken is not null)
        {
            if (!_vocab.TryGetValue(unkToken, out _unkId))
                throw new TokenizerFormatException($"BPE unk_token '{unkToken}' is not in the vocabulary.");
        }
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        _mergeList = new (int, int)[merges.Count];
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!_vocab.TryGetValue(left, out int a) || !_vocab.TryGetValue(right, out int b))
                throw new TokenizerFormatException($"BPE merge {rank} ('{left}' '{right}') uses a token that is not in the vocabulary.");
            if (!_vocab.TryGetValue(left + right, out int merged))
                throw new TokenizerFormatException($"BPE merge {rank} ('{left}' '{right}') makes '{left + right}', which is not in the vocabulary.");
            _merges.TryAdd(Key(a, b), (rank, merged));
            _mergeList[rank] = (a, b);
        }
    }

    public string? UnkToken { get; }
    public bool FuseUnk { get; }
    public bool IgnoreMerges { get; }
    public int MergeCount => _mergeList.Length;

    public override int VocabularySize => _tokens.Length;

    public override int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public override string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    /// <summary>Merge <paramref name="rank"/> as (left token, right token).</summary>
    public (string Left, string Right) Merge(int rank) => (_tokens[_mergeList[rank].Left], _tokens[_mergeList[rank].Right]);

    public override void Tokenize(ReadOnlySpan<char> piece, List<int> ids, List<(int Start, int End)>? offsets)
    {
        if (piece.IsEmpty) return;
        if (IgnoreMerges && _lookup.TryGetValue(piece, out int whole))
        {
            ids.Add(whole);
            offsets?.Add((0, piece.Length));
            return;
        }
        // Packed result: count ids then count lengths (UTF-16 units of the piece each id covers).
        if (!_cacheLookup.TryGetValue(piece, out int[]? packed))
        {
            packed = Run(piece);
            if (piece.Length <= MaxCachedPieceLength && Volatile.Read(ref _cacheCount) < MaxCacheEntries && _cacheLookup.TryAdd(piece, packed))
                Interlocked.Increment(ref _cacheCount);
        }
        int n = packed.Length / 2;
        int position = 0;
        for (int k = 0; k < n; k++)
        {
            ids.Add(packed[k]);
            int length = packed[n + k];
            offsets?.Add((position, position + length));
            position += length;
        }
    }

    private int[] Run(ReadOnlySpan<char> piece)
    {
        int capacity = piece.Length;
        int[] rented = ArrayPool<int>.Shared.Rent(capacity * 4);
        try
        {
            var id = rented.AsSpan(0, capacity);
            var len = rented.AsSpan(capacity, capacity);
            var prev = rented.AsSpan(capacity * 2, capacity);
            var next = rented.AsSpan(capacity * 3, capacity);
            int count = InitialSymbols(piece, id, len);
            for (int i = 0; i < count; i++)
            {
                prev[i] = i - 1;
                next[i] = i + 1 < count ? i + 1 : -1;
            }
            var heap = t_heap ??= new PriorityQueue<int, long>();
            heap.Clear();
            for (int i = 0; i + 1 < count; i++) Enqueue(heap, id, i, i + 1);
            while (heap.TryDequeue(out int left, out long priority))
            {
                int right = next[left];
                if (len[left] == 0 || right < 0) continue;
                if (!_merges.TryGetValue(Key(id[left], id[right]), out var merge) || merge.Rank != (int)(priority >> 32)) continue;
                id[left] = merge.Id;
                len[left] += len[right];
                len[right] = 0;
                next[left] = next[right];
                if (next[right] >= 0) prev[next[right]] = left;
                if (prev[left] >= 0) Enqueue(heap, id, prev[left], left);
                if (next[left] >= 0) Enqueue(heap, id, left, next[left]);
            }
            if (heap.Count == 0 && count > 1 << 16) t_heap = null; // do not keep a huge heap per thread
            return Pack(id, len, next, count);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rented);
        }
    }

    private void Enqueue(PriorityQueue<int, long> heap, Span<int> id, int left, int right)
    {
        if (_merges.TryGetValue(Key(id[left], id[right]), out var merge)) heap.Enqueue(left, ((long)merge.Rank << 32) | (uint)left);
    }

    // Code points become symbols; unknown ones become the unk token (fused when asked) or are dropped.
    private int InitialSymbols(ReadOnlySpan<char> piece, Span<int> id, Span<int> len)
    {
        int count = 0, pending = 0;
        for (int i = 0; i < piece.Length;)
        {
            int width = char.IsHighSurrogate(piece[i]) && i + 1 < piece.Length && char.IsLowSurrogate(piece[i + 1]) ? 2 : 1;
            if (_lookup.TryGetValue(piece.Slice(i, width), out int symbol))
            {
                id[count] = symbol;
                len[count++] = width + pending;
                pending = 0;
            }
            else if (_unkId >= 0)
            {
                if (FuseUnk && count > 0 && id[count - 1] == _unkId) len[count - 1] += width;
                else
                {
                    id[count] = _unkId;
                    len[count++] = width + pending;
                    pending = 0;
                }
            }
            else if (count > 0) len[count - 1] += width; // dropped, its text stays inside a neighbouring token's range
            else pending += width;
            i += width;
        }
        return count;
    }

    private static int[] Pack(Span<int> id, Span<int> len, Span<int> next, int count)
    {
        int n = 0;
        for (int i = count > 0 ? 0 : -1; i >= 0; i = next[i]) n++;
        var packed = new int[2 * n];
        int k = 0;
        for (int i = count > 0 ? 0 : -1; i >= 0; i = next[i], k++)
        {
            packed[k] = id[i];
            packed[n + k] = len[i];
        }
        return packed;
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    public override void Write(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "BPE");
        writer.WriteNull("dropout");
        if (UnkToken is null) writer.WriteNull("unk_token");
        else writer.WriteString("unk_token", UnkToken);
        writer.WriteNull("continuing_subword_prefix");
        writer.WriteNull("end_of_word_suffix");
        writer.WriteBoolean("fuse_unk", FuseUnk);
        writer.WriteBoolean("byte_fallback", false);
        writer.WriteBoolean("ignore_merges", IgnoreMerges);
        WriteVocabulary(writer, _tokens);
        writer.WriteStartArray("merges");
        foreach (var (a, b) in _mergeList)
        {
            writer.WriteStartArray();
            writer.WriteStringValue(_tokens[a]);
            writer.WriteStringValue(_tokens[b]);
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
