using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Retro.Core;
using Retro.Core.Text;

namespace Retro.VectorStore.Text;

internal sealed partial class InvertedIndex
{
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
        var run = new SearchRun { Filter = filter, Limit = results.Length };
        try
        {
            if (_documents == 0 || !ResolveTerms(query, k1, b, ref run)) return 0;
            run.Scores = _scorePool.Rent(run.Lengths.Length);
            run.Touched = ArrayPool<uint>.Shared.Rent((int)Math.Min(run.MaxTouched, run.Lengths.Length) + 1);
            run.Heap = ArrayPool<(uint, float)>.Shared.Rent(run.Limit);
            int t = ScoreWholeLists(ref run, cancellationToken);
            if (t == run.TermCount) return TopK(run.Scores!, run.Touched.AsSpan(0, run.TouchedCount), filter, results);
            float theta = CompleteThreshold(ref run, t);
            int count = CollectCandidates(ref run, t, theta);
            count = ProbeRemainingLists(ref run, t, theta, count, cancellationToken);
            return TopK(run.Scores!, run.Candidates.AsSpan(0, count), null, results);
        }
        finally
        {
            _lock.ExitReadLock();
            run.Return(_scorePool);
        }
    }

    /// <summary>One search's terms, bounds and pooled scratch, handed from step to step (a struct on the caller's stack).</summary>
    private struct SearchRun
    {
        public INodeFilter? Filter;
        /// <summary>k: the results wanted.</summary>
        public int Limit;
        /// <summary>Per-offset lengths (the index's array when the search began).</summary>
        public int[] Lengths;
        /// <summary>BM25's length normaliser k1·(1 − b + b·len/avg) = NormA + NormB·len.</summary>
        public float NormA, NormB;
        /// <summary>The query's terms present in the index with their upper bounds (query count · idf · (k1 + 1)), highest first.</summary>
        public (PostingList List, float Weight)[] Terms;
        public int TermCount;
        /// <summary>Suffix[i] = Σ_{j ≥ i} upper bound of term j; RemainingPostings[i] = Σ_{j ≥ i} postings of term j.</summary>
        public float[] Suffix;
        public long[] RemainingPostings;
        /// <summary>Postings of all the terms: the most documents a search can touch.</summary>
        public long MaxTouched;
        /// <summary>Score accumulators by offset (handed back all zero), and the offsets touched, in order.</summary>
        public float[]? Scores;
        public uint[]? Touched;
        public int TouchedCount;
        public (uint, float)[]? Heap;
        public ulong[]? Bitmap;
        public uint[]? Candidates;
        public float[]? BoundCache;
        public LengthBounds Bounds;

        /// <summary>Zeroes the touched scores and returns every pooled array.</summary>
        public readonly void Return(ArrayPool<float> scorePool)
        {
            if (Scores is not null)
            {
                foreach (uint o in Touched.AsSpan(0, TouchedCount)) Scores[o] = 0f;
                scorePool.Return(Scores);
            }
            if (Touched is not null) ArrayPool<uint>.Shared.Return(Touched);
            if (Heap is not null) ArrayPool<(uint, float)>.Shared.Return(Heap);
            if (Bitmap is not null) ArrayPool<ulong>.Shared.Return(Bitmap);
            if (Candidates is not null) ArrayPool<uint>.Shared.Return(Candidates);
            if (BoundCache is not null) ArrayPool<float>.Shared.Return(BoundCache);
        }
    }

    /// <summary>Resolves the query's terms and orders them by upper bound, highest first; false when none is indexed.</summary>
    private bool ResolveTerms(ReadOnlySpan<TermCount> query, float k1, float b, ref SearchRun run)
    {
        float avg = (float)AverageLength;
        if (avg <= 0) avg = 1;
        run.Lengths = _lengths;
        run.NormA = k1 * (1f - b);
        run.NormB = k1 * b / avg;
        var terms = new (PostingList List, float Weight)[query.Length];
        int nt = 0;
        long maxTouched = 0;
        foreach (var q in query)
        {
            if (!_terms.TryGetValue(q.Term, out var list)) continue;
            terms[nt++] = (list, q.Count * Bm25.Idf(list.Count, _documents) * (k1 + 1f));
            maxTouched += list.Count;
        }
        if (nt == 0) return false;
        Array.Sort(terms, 0, nt, Comparer<(PostingList List, float Weight)>.Create((x, y) => y.Weight != x.Weight ? y.Weight.CompareTo(x.Weight) : x.List.Count.CompareTo(y.List.Count)));
        var suffix = new float[nt + 1];
        var remainingPostings = new long[nt + 1];
        for (int i = nt - 1; i >= 0; i--)
        {
            suffix[i] = suffix[i + 1] + terms[i].Weight;
            remainingPostings[i] = remainingPostings[i + 1] + terms[i].List.Count;
        }
        (run.Terms, run.TermCount, run.Suffix, run.RemainingPostings, run.MaxTouched) = (terms, nt, suffix, remainingPostings, maxTouched);
        return true;
    }

    /// <summary>
    /// Phase 1: scores whole posting lists, term at a time (adding new documents), while an unseen document could still
    /// make the top k; returns the first term not scored (the term count when every list was).
    /// </summary>
    private static int ScoreWholeLists(ref SearchRun run, CancellationToken cancellationToken)
    {
        var terms = run.Terms;
        int nt = run.TermCount, limit = run.Limit, touchedCount = 0;
        float[] scores = run.Scores!;
        uint[] touched = run.Touched!;
        int[] lengths = run.Lengths;
        float normA = run.NormA, normB = run.NormB;
        int t = 0;
        for (; t < nt; t++)
        {
            run.TouchedCount = touchedCount; // what the scores hold if cancellation stops the search here: they are zeroed from it
            cancellationToken.ThrowIfCancellationRequested();
            // Checking costs a pass over the touched documents: only worth it when the lists left are longer.
            if (touchedCount >= limit && run.RemainingPostings[t] > touchedCount && 2L * terms[t].List.Count > touchedCount)
            {
                // Any k documents' partial scores bound θ from below. The first touched are those of the rarest,
                // highest-weight terms (where the best partial scores are), so a bounded prefix keeps the check cheap.
                float theta = Threshold(scores, touched.AsSpan(0, Math.Min(touchedCount, Math.Max(ThresholdPrefix, 4 * limit))), run.Filter, run.Heap.AsSpan(0, limit));
                if (CannotReach(0f, run.Suffix[t], theta)) break;
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
        run.TouchedCount = touchedCount;
        return t;
    }

    /// <summary>
    /// θ for phase 2. θ from partial scores is loose (the terms still to come add to every score): the k best partial
    /// scores are completed first, by binary search in the lists from term <paramref name="t"/> on. Those k real
    /// documents' full scores bound the final k-th best from below, a far tighter θ that leaves far fewer candidates.
    /// (Phase 1 stopped with k accepted documents in that prefix; with fewer, θ stays −∞ and nothing is pruned.)
    /// </summary>
    private static float CompleteThreshold(ref SearchRun run, int t)
    {
        int limit = run.Limit;
        var heap = run.Heap!;
        var scores = run.Scores!;
        if (TopKHeap(scores, run.Touched.AsSpan(0, Math.Min(run.TouchedCount, Math.Max(ThresholdPrefix, 4 * limit))), run.Filter, heap.AsSpan(0, limit)) != limit)
            return float.NegativeInfinity;
        float fullTheta = float.PositiveInfinity;
        foreach (var (o, partial) in heap.AsSpan(0, limit))
        {
            float full = partial;
            for (int r = t; r < run.TermCount; r++)
            {
                var (list, weight) = run.Terms[r];
                int p = Array.BinarySearch(list.Offsets, 0, list.Count, o);
                if (p >= 0) full += Contribution(weight, list.Frequencies[p], run.NormA + run.NormB * run.Lengths[o]);
            }
            fullTheta = Math.Min(fullTheta, full);
        }
        return fullTheta;
    }

    /// <summary>
    /// The candidates of phase 2 into <see cref="SearchRun.Candidates"/>: touched documents (that the filter accepts)
    /// whose partial score plus what terms from <paramref name="t"/> on can add to a document of their length reaches
    /// <paramref name="theta"/>, in ascending offset order (a bitmap over the offsets, read word by word). Returns how many.
    /// </summary>
    private int CollectCandidates(ref SearchRun run, int t, float theta)
    {
        int[] lengths = run.Lengths;
        float[] scores = run.Scores!;
        uint[] touched = run.Touched!;
        int touchedCount = run.TouchedCount;
        var filter = run.Filter;
        int cachedLengths = Math.Min(_maxLength + 1, 256);
        var boundCache = run.BoundCache = ArrayPool<float>.Shared.Rent(cachedLengths);
        run.Bounds = new LengthBounds(run.Terms, run.TermCount, run.NormA, run.NormB, boundCache, cachedLengths);
        run.Bounds.From(t);
        int words = (lengths.Length + 63) >> 6;
        var bitmap = run.Bitmap = ArrayPool<ulong>.Shared.Rent(words);
        new Span<ulong>(bitmap, 0, words).Clear();
        int count = 0, from = 0;
        if (filter is null)
        {
            run.Bounds.FillAll();
            count = MarkCandidates(scores, lengths, boundCache, cachedLengths, touched, touchedCount, theta, bitmap, out from);
        }
        for (int i = from; i < touchedCount; i++)
        {
            uint o = touched[i];
            if (CannotReach(scores[o], run.Bounds.Get(lengths[o]), theta)) continue; // the length bound < Σ weights
            if (filter is not null && !filter.Accepts(o)) continue;
            bitmap[o >> 6] |= 1UL << (int)(o & 63);
            count++;
        }
        var candidates = run.Candidates = ArrayPool<uint>.Shared.Rent(Math.Max(count, 1));
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
        return count;
    }

    /// <summary>
    /// Phase 2: probes the lists from term <paramref name="t"/> on for the <paramref name="count"/> candidates only
    /// (scanning when postings are dense between candidates, galloping otherwise), dropping after each term those that
    /// can no longer reach the k-th best; returns how many remain.
    /// </summary>
    private static int ProbeRemainingLists(ref SearchRun run, int t, float theta, int count, CancellationToken cancellationToken)
    {
        int nt = run.TermCount, limit = run.Limit;
        float[] scores = run.Scores!;
        uint[] candidates = run.Candidates!;
        int[] lengths = run.Lengths;
        float normA = run.NormA, normB = run.NormB;
        for (; t < nt && count > 0; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (list, weight) = run.Terms[t];
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
                float k = Math.Max(theta, Threshold(scores, candidates.AsSpan(0, count), null, run.Heap.AsSpan(0, limit)));
                run.Bounds.From(t + 1);
                int kept = 0;
                for (int i = 0; i < count; i++)
                {
                    uint o = candidates[i];
                    if (!CannotReach(scores[o], run.Bounds.Get(lengths[o]), k)) candidates[kept++] = o;
                }
                count = kept;
            }
        }
        return count;
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
}
