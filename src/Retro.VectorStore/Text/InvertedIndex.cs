using System.Buffers;
using System.Runtime.InteropServices;
using Retro.Core;
using Retro.VectorStore.Hnsw;

namespace Retro.VectorStore.Text;

/// <summary>
/// The in-memory BM25 inverted index of a collection: per term, the offsets holding it (ascending) with their term
/// frequencies; per offset, the document length. Derived: the database's postings table is the durable copy, loaded on
/// open and updated by the same writer after each commit. Searches take a read lock and run concurrently with each
/// other; the writer's batches take the write lock briefly (searches keep running while ingesting).
/// </summary>
internal sealed class InvertedIndex
{
    private readonly Dictionary<uint, PostingList> _terms = [];
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    // Score accumulators are handed back all zero (only touched entries are written), so a private pool never needs clearing.
    private readonly ArrayPool<float> _scorePool = ArrayPool<float>.Create(1 << 28, 8);
    private int[] _lengths = NewLengths(1024);
    private long _totalLength;
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
        _documents++;
    }

    /// <summary>Per-offset lengths; -1 = no document.</summary>
    private static int[] NewLengths(int capacity)
    {
        var lengths = new int[capacity];
        Array.Fill(lengths, -1);
        return lengths;
    }

    // ---------------------------------------------------------------- search

    /// <summary>
    /// BM25 of every document sharing a term with <paramref name="query"/> (term ids with query counts), best
    /// <c>results.Length</c> that <paramref name="filter"/> accepts written best first (ties: lower offset first).
    /// </summary>
    /// <remarks>
    /// Exact top-k with MaxScore-style pruning (Turtle &amp; Flood 1995): terms are scored rarest-impact first, term at a
    /// time. Each term adds at most its upper bound idf · (k1 + 1) to a document, so once the k-th best partial score θ
    /// exceeds the bounds of all remaining terms, no unseen document can enter the top k: the remaining (common, long)
    /// posting lists are then only probed for the candidates that can still reach θ, by galloping search.
    /// </remarks>
    public int Search(ReadOnlySpan<TermCount> query, float k1, float b, INodeFilter? filter, Span<(uint Offset, float Score)> results, CancellationToken cancellationToken)
    {
        if (results.IsEmpty || query.IsEmpty) return 0;
        _lock.EnterReadLock();
        float[]? scores = null;
        uint[]? touched = null;
        int touchedCount = 0;
        (uint, float)[]? heap = null;
        try
        {
            if (_documents == 0) return 0;
            float avg = (float)AverageLength;
            if (avg <= 0) avg = 1;
            int[] lengths = _lengths;
            float normA = k1 * (1f - b), normB = k1 * b / avg;

            // Resolve terms; order by upper bound, highest first.
            var terms = new (PostingList List, float Weight)[query.Length];
            int nt = 0;
            long maxTouched = 0;
            foreach (var q in query)
            {
                if (!_terms.TryGetValue(q.Term, out var list)) continue;
                terms[nt++] = (list, q.Count * Bm25.Idf(list.Count, _documents) * (k1 + 1f));
                maxTouched += list.Count;
            }
            if (nt == 0) return 0;
            Array.Sort(terms, 0, nt, Comparer<(PostingList List, float Weight)>.Create((x, y) => y.Weight != x.Weight ? y.Weight.CompareTo(x.Weight) : x.List.Count.CompareTo(y.List.Count)));
            var suffix = new float[nt + 1]; // suffix[i] = Σ_{j ≥ i} upper bound of term j
            var remainingPostings = new long[nt + 1];
            for (int i = nt - 1; i >= 0; i--)
            {
                suffix[i] = suffix[i + 1] + terms[i].Weight;
                remainingPostings[i] = remainingPostings[i + 1] + terms[i].List.Count;
            }

            scores = _scorePool.Rent(lengths.Length);
            touched = ArrayPool<uint>.Shared.Rent((int)Math.Min(maxTouched, lengths.Length) + 1);
            heap = ArrayPool<(uint, float)>.Shared.Rent(results.Length);
            int limit = results.Length;
            int t = 0;
            // Phase 1: score whole lists (adding new documents) while an unseen document could still make the top k.
            for (; t < nt; t++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                // Checking costs a pass over the touched documents: only worth it when the lists left are longer.
                if (touchedCount >= limit && remainingPostings[t] > touchedCount)
                {
                    float theta = Threshold(scores, touched.AsSpan(0, touchedCount), filter, heap.AsSpan(0, limit));
                    if (CannotReach(0f, suffix[t], theta)) break;
                }
                var (list, weight) = terms[t];
                var offsets = list.Offsets;
                var tfs = list.Frequencies;
                for (int i = 0; i < list.Count; i++)
                {
                    uint o = offsets[i];
                    float tf = tfs[i];
                    float s = weight * tf / (tf + normA + normB * lengths[o]);
                    if (scores[o] == 0f) touched[touchedCount++] = o;
                    scores[o] += s;
                }
            }
            if (t == nt) return TopK(scores, touched.AsSpan(0, touchedCount), filter, results);

            // Phase 2: only candidates that can still reach θ; probe the remaining lists for them.
            var candidates = new List<uint>();
            {
                float theta = Threshold(scores, touched.AsSpan(0, touchedCount), filter, heap.AsSpan(0, limit));
                foreach (uint o in touched.AsSpan(0, touchedCount))
                {
                    if (!CannotReach(scores[o], suffix[t], theta) && (filter is null || filter.Accepts(o))) candidates.Add(o);
                }
            }
            candidates.Sort();
            for (; t < nt && candidates.Count > 0; t++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (list, weight) = terms[t];
                var offsets = list.Offsets;
                var tfs = list.Frequencies;
                int p = 0;
                foreach (uint o in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(candidates))
                {
                    p = Gallop(offsets, p, list.Count, o);
                    if (p == list.Count) break;
                    if (offsets[p] != o) continue;
                    float tf = tfs[p];
                    scores[o] += weight * tf / (tf + normA + normB * lengths[o]);
                }
                if (candidates.Count > limit)
                {
                    float theta = Threshold(scores, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(candidates), null, heap.AsSpan(0, limit));
                    float rest = suffix[t + 1];
                    candidates.RemoveAll(o => CannotReach(scores[o], rest, theta));
                }
            }
            return TopK(scores, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(candidates), null, results);
        }
        finally
        {
            _lock.ExitReadLock();
            if (scores is not null)
            {
                foreach (uint o in touched.AsSpan(0, touchedCount)) scores[o] = 0f;
                _scorePool.Return(scores);
            }
            if (touched is not null) ArrayPool<uint>.Shared.Return(touched);
            if (heap is not null) ArrayPool<(uint, float)>.Shared.Return(heap);
        }
    }

    /// <summary>
    /// Whether a document at <paramref name="partial"/> with at most <paramref name="bound"/> still to come stays strictly
    /// below <paramref name="theta"/> (with a relative margin for float rounding of the sums).
    /// </summary>
    private static bool CannotReach(float partial, float bound, float theta) => (partial + bound) * 1.0001f + 1e-6f < theta;

    /// <summary>The k-th best score among <paramref name="offsets"/> (k = the heap's length), or -∞ when fewer qualify.</summary>
    private static float Threshold(float[] scores, ReadOnlySpan<uint> offsets, INodeFilter? filter, Span<(uint Offset, float Score)> heap)
    {
        int count = TopKHeap(scores, offsets, filter, heap);
        return count < heap.Length ? float.NegativeInfinity : heap[0].Score;
    }

    /// <summary>First index ≥ <paramref name="from"/> whose offset is ≥ <paramref name="target"/> (exponential then binary search).</summary>
    private static int Gallop(uint[] offsets, int from, int count, uint target)
    {
        if (from >= count || offsets[from] >= target) return from;
        int step = 1, lo = from, hi = from + 1;
        while (hi < count && offsets[hi] < target)
        {
            lo = hi;
            step <<= 1;
            hi = from + step;
        }
        if (hi > count) hi = count;
        // offsets[lo] < target; answer in (lo, hi]
        int i = Array.BinarySearch(offsets, lo + 1, hi - lo - 1 < 0 ? 0 : hi - lo - 1, target);
        if (i >= 0) return i;
        return ~i;
    }

    /// <summary>Selects the best by a bounded min-heap, then sorts them best first.</summary>
    private static int TopK(float[] scores, ReadOnlySpan<uint> touched, INodeFilter? filter, Span<(uint Offset, float Score)> results)
    {
        int count = TopKHeap(scores, touched, filter, results);
        // Heap sort: repeatedly move the worst to the end.
        for (int end = count - 1; end > 0; end--)
        {
            (results[0], results[end]) = (results[end], results[0]);
            SiftDown(results, 0, end);
        }
        return count;
    }

    /// <summary>The best (at most the span's length) as a min-heap on "better": the root is the worst kept.</summary>
    private static int TopKHeap(float[] scores, ReadOnlySpan<uint> touched, INodeFilter? filter, Span<(uint Offset, float Score)> results)
    {
        int limit = results.Length, count = 0;
        foreach (uint o in touched)
        {
            float s = scores[o];
            if (count == limit && !Better(s, o, results[0].Score, results[0].Offset)) continue;
            if (filter is not null && !filter.Accepts(o)) continue;
            if (count < limit)
            {
                results[count] = (o, s);
                SiftUp(results, count++);
            }
            else
            {
                results[0] = (o, s);
                SiftDown(results, 0, count);
            }
        }
        return count;
    }

    /// <summary>Higher score first; equal scores: lower offset first.</summary>
    private static bool Better(float s, uint o, float s2, uint o2) => s > s2 || (s == s2 && o < o2);

    // Min-heap on "Better": the root is the worst kept.
    private static void SiftUp(Span<(uint Offset, float Score)> h, int i)
    {
        while (i > 0)
        {
            int p = (i - 1) / 2;
            if (!Better(h[p].Score, h[p].Offset, h[i].Score, h[i].Offset)) break;
            (h[p], h[i]) = (h[i], h[p]);
            i = p;
        }
    }

    private static void SiftDown(Span<(uint Offset, float Score)> h, int i, int count)
    {
        while (true)
        {
            int l = 2 * i + 1, r = l + 1, worst = i;
            if (l < count && Better(h[worst].Score, h[worst].Offset, h[l].Score, h[l].Offset)) worst = l;
            if (r < count && Better(h[worst].Score, h[worst].Offset, h[r].Score, h[r].Offset)) worst = r;
            if (worst == i) return;
            (h[worst], h[i]) = (h[i], h[worst]);
            i = worst;
        }
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
