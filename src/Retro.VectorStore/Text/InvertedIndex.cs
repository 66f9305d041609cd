using System.Buffers;
using System.Runtime.InteropServices;
using Retro.Core;
using Retro.Core.Text;

namespace Retro.VectorStore.Text;

/// <summary>
/// The in-memory BM25 inverted index of a collection: per term, the offsets holding it (ascending) with their term
/// frequencies; per offset, the document length. Derived: the database's postings table is the durable copy, loaded on
/// open and updated by the same writer after each commit. Searches take a read lock and run concurrently with each
/// other; the writer's batches take the write lock briefly (searches keep running while ingesting). The search, BM25
/// with MaxScore-style pruning, is in <c>InvertedIndex.Search.cs</c>.
/// </summary>
internal sealed partial class InvertedIndex
{
    private readonly Dictionary<uint, PostingList> _terms = [];
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    // Score accumulators are handed back all zero (only touched entries are written), so a private pool never needs clearing.
    private readonly ArrayPool<float> _scorePool = ArrayPool<float>.Create(1 << 28, 8);
    private int[] _lengths = NewLengths(1024);
    private long _totalLength;
    private int _maxLength; // the longest document ever indexed (kept on removal: a bound, not a statistic)
    private int _documents;

    /// <summary>Documents indexed (live points with text).</summary>
    public int Documents => _documents;

    /// <summary>Distinct terms.</summary>
    public int Terms => _terms.Count;

    /// <summary>Total postings (for reports).</summary>
    public long Postings { get; private set; }

    /// <summary>Mean document length in terms (0 when empty).</summary>
    public double AverageLength => _documents == 0 ? 0 : (double)_totalLength / _documents;

    // ---------------------------------------------------------------- writes (one writer)

    /// <summary>Appends postings loaded from disk: offsets of one term must arrive ascending. Writer only, before searches start.</summary>
    public void LoadPosting(uint term, uint offset, int tf)
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(_terms, term, out bool exists);
        if (!exists) list = new PostingList();
        list!.Append(offset, tf);
        Postings++;
    }

    /// <summary>Records a document length loaded from disk. Writer only, before searches start.</summary>
    public void LoadLength(uint offset, int length) => SetLength(offset, length);

    /// <summary>Applies a committed batch: removes replaced documents, adds new ones (offsets above every existing one).</summary>
    public void Apply(IReadOnlyList<DocumentTerms> removed, IReadOnlyList<DocumentTerms> added)
    {
        _lock.EnterWriteLock();
        try
        {
            foreach (var d in removed) RemoveCore(d);
            foreach (var d in added)
            {
                foreach (var t in d.Terms)
                {
                    ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(_terms, t.Term, out bool exists);
                    if (!exists) list = new PostingList();
                    list!.Append(d.Offset, t.Count);
                    Postings++;
                }
                SetLength(d.Offset, d.Length);
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private void RemoveCore(DocumentTerms d)
    {
        if (d.Offset >= _lengths.Length || _lengths[d.Offset] < 0) return;
        foreach (var t in d.Terms)
        {
            if (!_terms.TryGetValue(t.Term, out var list)) continue;
            if (list.Remove(d.Offset)) Postings--;
            if (list.Count == 0) _terms.Remove(t.Term);
        }
        _totalLength -= _lengths[d.Offset];
        _lengths[d.Offset] = -1;
        _documents--;
    }

    private void SetLength(uint offset, int length)
    {
        if (offset >= _lengths.Length)
        {
            var grown = NewLengths((int)Math.Max(offset + 1L, _lengths.Length * 3L / 2));
            _lengths.CopyTo(grown, 0);
            _lengths = grown;
        }
        if (_lengths[offset] >= 0) { _totalLength -= _lengths[offset]; _documents--; }
        // Length 0 (no terms) still counts as a document for N and the average: BM25's collection is every chunk.
        _lengths[offset] = Math.Max(length, 0);
        _totalLength += Math.Max(length, 0);
        if (length > _maxLength) _maxLength = length;
        _documents++;
    }

    /// <summary>Per-offset lengths; -1 = no document.</summary>
    private static int[] NewLengths(int capacity)
    {
        var lengths = new int[capacity];
        Array.Fill(lengths, -1);
        return lengths;
    }

    /// <summary>Document frequency of a term (tests).</summary>
    public int DocumentFrequency(uint term)
    {
        _lock.EnterReadLock();
        try { return _terms.TryGetValue(term, out var list) ? list.Count : 0; }
        finally { _lock.ExitReadLock(); }
    }

    /// <summary>One term's postings: ascending offsets with their term frequencies.</summary>
    private sealed class PostingList
    {
        public uint[] Offsets = new uint[4];
        public int[] Frequencies = new int[4];
        public int Count;
        /// <summary>The largest term frequency ever appended (removals keep it: still an upper bound).</summary>
        public int MaxFrequency;

        public void Append(uint offset, int tf)
        {
            if (Count == Offsets.Length)
            {
                Array.Resize(ref Offsets, Count * 2);
                Array.Resize(ref Frequencies, Count * 2);
            }
            System.Diagnostics.Debug.Assert(Count == 0 || Offsets[Count - 1] < offset, "postings must be appended in offset order");
            Offsets[Count] = offset;
            Frequencies[Count] = tf;
            if (tf > MaxFrequency) MaxFrequency = tf;
            Count++;
        }

        public bool Remove(uint offset)
        {
            int i = Array.BinarySearch(Offsets, 0, Count, offset);
            if (i < 0) return false;
            Array.Copy(Offsets, i + 1, Offsets, i, Count - i - 1);
            Array.Copy(Frequencies, i + 1, Frequencies, i, Count - i - 1);
            Count--;
            return true;
        }
    }
}

/// <summary>The terms of one stored chunk: its offset, its distinct terms with counts (sorted by term), its length.</summary>
internal sealed record DocumentTerms(uint Offset, TermCount[] Terms, int Length)
{
    /// <summary>Terms as stored in the database: (uint term, int count) little-endian pairs.</summary>
    public byte[] Encode() => MemoryMarshal.AsBytes(Terms.AsSpan()).ToArray();

    /// <summary>Reverses <see cref="Encode"/>.</summary>
    public static TermCount[] Decode(byte[] bytes) => MemoryMarshal.Cast<byte, TermCount>(bytes).ToArray();
}
