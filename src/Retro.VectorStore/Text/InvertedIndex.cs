using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
        ulong[]? bitmap = null;
        uint[]? candidates = null;
        float[]? boundCache = null;
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
                if (touchedCount >= limit && remainingPostings[t] > touchedCount && 2L * terms[t].List.Count > touchedCount)
                {
                    // Any k documents' partial scores bound θ from below. The first touched are those of the rarest,
                    // highest-weight terms (where the best partial scores are), so a bounded prefix keeps the check cheap.
                    float theta = Threshold(scores, touched.AsSpan(0, Math.Min(touchedCount, Math.Max(ThresholdPrefix, 4 * limit))), filter, heap.AsSpan(0, limit));
                    if (CannotReach(0f, suffix[t], theta)) break;
                }
                var (list, weight) = terms[t];
                var offsets = list.Offsets;
                var tfs = list.Frequencies;
                for (int i = 0; i < list.Count; i++)
                {
                    uint o = offsets[i];
                    float s = Contribution(weight, tfs[i], normA + normB * lengths[o]);
                    ref float score = ref scores[o];
                    touched[touchedCount] = o;              // kept only when o is new: no branch to mispredict
                    touchedCount += score == 0f ? 1 : 0;
                    score += s;
                }
            }
            if (t == nt) return TopK(scores, touched.AsSpan(0, touchedCount), filter, results);

            // Phase 2: only candidates that can still reach θ; probe the remaining lists for them.
            // θ from partial scores is loose (the terms still to come add to every score): complete the k best
            // partial scores first, by binary search in the remaining lists. Those k real documents' full scores bound
            // the final k-th best from below, a far tighter θ that leaves far fewer candidates.
            // (The break needed k accepted documents in that prefix; with fewer, θ stays −∞ and nothing is pruned.)
            float fullTheta = float.NegativeInfinity;
            if (TopKHeap(scores, touched.AsSpan(0, Math.Min(touchedCount, Math.Max(ThresholdPrefix, 4 * limit))), filter, heap.AsSpan(0, limit)) == limit)
            {
                fullTheta = float.PositiveInfinity;
                foreach (var (o, partial) in heap.AsSpan(0, limit))
                {
                    float full = partial;
                    for (int r = t; r < nt; r++)
                    {
                        var (list, weight) = terms[r];
                        int p = Array.BinarySearch(list.Offsets, 0, list.Count, o);
                        if (p >= 0) full += Contribution(weight, list.Frequencies[p], normA + normB * lengths[o]);
                    }
                    fullTheta = Math.Min(fullTheta, full);
                }
            }

            // Candidates: touched documents whose partial score plus what the remaining terms can add to a document of
            // their length reaches θ, in ascending offset order (a bitmap over the offsets, read word by word).
            int cachedLengths = Math.Min(_maxLength + 1, 256);
            boundCache = ArrayPool<float>.Shared.Rent(cachedLengths);
            var bounds = new LengthBounds(terms, nt, normA, normB, boundCache, cachedLengths);
            bounds.From(t);
            int words = (lengths.Length + 63) >> 6;
            bitmap = ArrayPool<ulong>.Shared.Rent(words);
            new Span<ulong>(bitmap, 0, words).Clear();
            int count = 0, from = 0;
            if (filter is null)
            {
                bounds.FillAll();
                count = MarkCandidates(scores, lengths, boundCache, cachedLengths, touched, touchedCount, fullTheta, bitmap, out from);
            }
            for (int i = from; i < touchedCount; i++)
            {
                uint o = touched[i];
                if (CannotReach(scores[o], bounds.Get(lengths[o]), fullTheta)) continue; // the length bound < Σ weights
                if (filter is not null && !filter.Accepts(o)) continue;
                bitmap[o >> 6] |= 1UL << (int)(o & 63);
                count++;
            }
            candidates = ArrayPool<uint>.Shared.Rent(Math.Max(count, 1));
            count = 0;
            for (int wi = 0; wi < words; wi++)
            {
                ulong bits = bitmap[wi];
                while (bits != 0)
                {
                    candidates[count++] = (uint)((wi << 6) + BitOperations.TrailingZeroCount(bits));
                    bits &= bits - 1;
                }
            }

            for (; t < nt && count > 0; t++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (list, weight) = terms[t];
                var offsets = list.Offsets;
                var tfs = list.Frequencies;
                int p = 0;
                bool dense = list.Count <= 48L * count; // a few postings between candidates: scan, else gallop
                for (int i = 0; i < count; i++)
                {
                    uint o = candidates[i];
                    p = dense ? Scan(offsets, p, list.Count, o) : Gallop(offsets, p, list.Count, o);
                    if (p == list.Count) break;
                    if (offsets[p] != o) continue;
                    scores[o] += Contribution(weight, tfs[p], normA + normB * lengths[o]);
                }
                if (count > limit && t + 1 < nt)
                {
                    float theta = Math.Max(fullTheta, Threshold(scores, candidates.AsSpan(0, count), null, heap.AsSpan(0, limit)));
                    bounds.From(t + 1);
                    int kept = 0;
                    for (int i = 0; i < count; i++)
                    {
                        uint o = candidates[i];
                        if (!CannotReach(scores[o], bounds.Get(lengths[o]), theta)) candidates[kept++] = o;
                    }
                    count = kept;
                }
            }
            return TopK(scores, candidates.AsSpan(0, count), null, results);
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
            if (bitmap is not null) ArrayPool<ulong>.Shared.Return(bitmap);
            if (candidates is not null) ArrayPool<uint>.Shared.Return(candidates);
            if (boundCache is not null) ArrayPool<float>.Shared.Return(boundCache);
        }
    }

    /// <summary>How many of the first touched documents (but at least 4k) the θ estimates read.</summary>
    private const int ThresholdPrefix = 2048;

    /// <summary>
    /// What terms [from, to) can still add to a document whose length normaliser is <paramref name="norm"/>
    /// (k1·(1 − b + b·len/avg)): tf/(tf + norm) grows with tf, so each term adds at most weight·T/(T + norm) with T
    /// its list's largest term frequency. Much tighter than Σ weight for long documents and rarely repeated terms.
    /// </summary>
    private static float DocumentBound((PostingList List, float Weight)[] terms, int from, int to, float norm)
    {
        float bound = 0f;
        for (int r = from; r < to; r++) bound += Contribution(terms[r].Weight, terms[r].List.MaxFrequency, norm);
        return bound;
    }

    /// <summary>What a term of <paramref name="weight"/> (query count · idf · (k1 + 1)) adds at term frequency <paramref name="tf"/> to a document with length normaliser <paramref name="norm"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static float Contribution(float weight, float tf, float norm) => weight * tf / (tf + norm);

    /// <summary>
    /// The candidate test of the scalar loop (score + bound by length reaches θ, <see cref="CannotReach"/>'s margin) for
    /// whole blocks of 8 touched documents by AVX2 gathers; sets their bits and returns how many, with the index
    /// where the scalar tail starts. Needs every cached length's bound in <paramref name="bounds"/>.
    /// </summary>
    private static unsafe int MarkCandidates(float[] scores, int[] lengths, float[] bounds, int cached, uint[] touched, int touchedCount, float theta, ulong[] bitmap, out int end)
    {
        end = 0;
        if (!Avx2.IsSupported) return 0;
        int count = 0;
        var margin = Vector256.Create(1.0001f);
        var slack = Vector256.Create(1e-6f);
        var th = Vector256.Create(theta);
        var longest = Vector256.Create(cached - 1);
        fixed (float* sp = scores, bp = bounds)
        fixed (int* lp = lengths)
        fixed (uint* tp = touched)
        {
            int i = 0;
            for (; i + 8 <= touchedCount; i += 8)
            {
                var index = Vector256.Load((int*)tp + i);
                var score = Avx2.GatherVector256(sp, index, 4);
                // longer documents take the bound of the longest cached length: larger than theirs, so still safe
                var length = Vector256.Min(Avx2.GatherVector256(lp, index, 4), longest);
                var bound = Avx2.GatherVector256(bp, length, 4);
                var reach = Vector256.GreaterThanOrEqual((score + bound) * margin + slack, th);
                uint lanes = Vector256.ExtractMostSignificantBits(reach);
                while (lanes != 0)
                {
                    uint o = tp[i + BitOperations.TrailingZeroCount(lanes)];
                    bitmap[o >> 6] |= 1UL << (int)(o & 63);
                    count++;
                    lanes &= lanes - 1;
                }
            }
            end = i;
        }
        return count;
    }

    /// <summary>
    /// <see cref="DocumentBound"/> of terms [from, nt) by document length, computed once per length (chunks are short,
    /// so a query meets few distinct lengths); lengths past the cache are computed each time.
    /// </summary>
    private struct LengthBounds((PostingList List, float Weight)[] terms, int nt, float normA, float normB, float[] cache, int cached)
    {
        private int _from = -1;

        public void From(int from)
        {
            if (from == _from) return;
            _from = from;
            cache.AsSpan(0, cached).Fill(float.NaN);
        }

        /// <summary>Computes every cached length's bound (for gathers).</summary>
        public void FillAll()
        {
            for (int length = 0; length < cached; length++) Get(length);
        }

        public float Get(int length)
        {
            if ((uint)length >= (uint)cached) return DocumentBound(terms, _from, nt, normA + normB * length);
            float b = cache[length];
            if (float.IsNaN(b)) cache[length] = b = DocumentBound(terms, _from, nt, normA + normB * length);
            return b;
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

    /// <summary>
    /// First index ≥ <paramref name="from"/> whose offset is ≥ <paramref name="target"/>, by a forward scan: whole
    /// blocks of 16 skipped on their last offset, then one vector compare counts the offsets below the target. For
    /// short gaps, where galloping's data-dependent branches cost more than reading the postings.
    /// </summary>
    private static int Scan(uint[] offsets, int from, int count, uint target)
    {
        int p = from;
        var t = Vector512.Create(target);
        while (Vector512.IsHardwareAccelerated && p + 16 <= count)
        {
            if (offsets[p + 15] < target) { p += 16; continue; }
            var block = Vector512.LoadUnsafe(ref offsets[p]);
            ulong below = Vector512.ExtractMostSignificantBits(Vector512.LessThan(block, t));
            return p + BitOperations.PopCount(below);
        }
        while (p < count && offsets[p] < target) p++;
        return p;
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
