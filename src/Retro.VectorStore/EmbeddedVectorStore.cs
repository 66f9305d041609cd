using System.Buffers;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Retro.Core;
using Retro.Core.Text;
using Retro.VectorStore.Hnsw;
using Retro.VectorStore.Metrics;
using Retro.VectorStore.Payload;
using Retro.VectorStore.Text;
using Retro.VectorStore.Vectors;

namespace Retro.VectorStore;

/// <summary>
/// The embedded vector store: one folder per collection under a root directory, holding a SQLite database (the
/// source of truth: payload, vectors, offsets, ingest checkpoints), a memory-mapped vector file and a persisted HNSW
/// graph (both derived, each with a high-water mark). An upsert commits to SQLite (WAL, synchronous=FULL) before it
/// touches the derived files, so an acknowledged batch survives kill -9 and power loss; opening a collection repairs
/// whatever the derived files miss (vectors reloaded from SQLite, missing nodes re-inserted into the graph).
/// The store indexes each chunk's text for BM25 itself (<see cref="ITextSearch"/>): the postings commit in the same
/// transaction as the payload, and an in-memory copy of them answers text searches.
/// Thread-safe: searches and fetches run concurrently with one writer; writes are serialised.
/// </summary>
public sealed partial class EmbeddedVectorStore : IVectorStore, IIngestCheckpoints, ITextSearch
{
    private readonly string _root;
    private readonly EmbeddedStoreOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _write = new(1, 1);
    private OpenCollection? _open;
    private Exception? _faulted;
    private int _readers;
    private volatile bool _disposed;

    /// <summary>A store rooted at <paramref name="directory"/> (created when missing); call <see cref="EnsureCollectionAsync"/> next.</summary>
    public EmbeddedVectorStore(string directory, EmbeddedStoreOptions? options = null, ILogger<EmbeddedVectorStore>? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        _root = Path.GetFullPath(directory);
        _options = options ?? new EmbeddedStoreOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.BuildThreads, 1, nameof(options));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Directory.CreateDirectory(_root);
    }

    /// <summary>Opens (or creates) <paramref name="spec"/>'s collection under <paramref name="directory"/>.</summary>
    public static async ValueTask<EmbeddedVectorStore> OpenAsync(string directory, CollectionSpec spec, EmbeddedStoreOptions? options = null,
        ILogger<EmbeddedVectorStore>? logger = null, CancellationToken cancellationToken = default)
    {
        var store = new EmbeddedVectorStore(directory, options, logger);
        try
        {
            await store.EnsureCollectionAsync(spec, cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public CollectionSpec Collection => _open?.Spec ?? throw new InvalidOperationException("no collection is open: call EnsureCollectionAsync first");

    /// <summary>What opening the current collection found and repaired.</summary>
    internal OpenReport? LastOpenReport { get; private set; }

    /// <summary>The index of the open collection (tests, benchmarks).</summary>
    internal HnswIndex Index => Current().Index;

    /// <summary>Rows of the collection's postings table (tests).</summary>
    internal long PostingRows() => Current().Database.CountPostings();

    // ---------------------------------------------------------------- collection

    /// <inheritdoc />
    public async ValueTask EnsureCollectionAsync(CollectionSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(spec.Bm25, nameof(spec));
        spec.Bm25.Validate();
        var errors = new List<ValidationResult>();
        if (!Validator.TryValidateObject(spec, new ValidationContext(spec), errors, validateAllProperties: true))
        {
            throw new ArgumentException("invalid collection spec: " + string.Join("; ", errors.Select(e => e.ErrorMessage)), nameof(spec));
        }
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_open is { } open)
            {
                if (open.Spec.Name != spec.Name)
                {
                    throw new InvalidOperationException($"this store serves collection '{open.Spec.Name}'; open '{spec.Name}' with another instance");
                }
                ThrowIfConflicting(open.Spec, spec);
                return;
            }
            _open = Open(spec);
        }
        finally
        {
            _write.Release();
        }
    }

    private static void ThrowIfConflicting(CollectionSpec existing, CollectionSpec requested)
    {
        if (existing.Dimension != requested.Dimension || existing.Metric != requested.Metric)
        {
            throw new InvalidOperationException($"collection '{existing.Name}' exists with dimension {existing.Dimension} and metric {existing.Metric}; " +
                $"requested dimension {requested.Dimension} and metric {requested.Metric}");
        }
        if (!existing.Bm25.SameAnalysis(requested.Bm25))
        {
            throw new InvalidOperationException($"collection '{existing.Name}' indexes text with stop words={existing.Bm25.StopWords}, stemming={existing.Bm25.Stemming}; " +
                $"requested stop words={requested.Bm25.StopWords}, stemming={requested.Bm25.Stemming} (re-index into a new collection to change them)");
        }
    }

    // ---------------------------------------------------------------- writes

    /// <inheritdoc />
    public async ValueTask UpsertAsync(IReadOnlyList<VectorPoint> points, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(points);
        var spec = Collection;
        var prepared = Prepare(points, spec, Current().Analyzer);
        cancellationToken.ThrowIfCancellationRequested();
        if (prepared.Length == 0) return;
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var c = CurrentForWrite();
            cancellationToken.ThrowIfCancellationRequested();
            var latest = new Dictionary<ChunkId, int>(prepared.Length);
            for (int i = 0; i < prepared.Length; i++) latest[prepared[i].Chunk.Id] = i;
            var writes = new List<PointWrite>(latest.Count);
            uint next = checked((uint)c.NextOffset);
            for (int i = 0; i < prepared.Length; i++)
            {
                var p = prepared[i];
                if (latest[p.Chunk.Id] != i) continue; // a later point of the batch has the same id: last wins
                if (c.Tracker.TryGetOffset(p.Chunk.Id, out uint old) && c.Tracker.HashOf(old) == p.Hash) continue; // unchanged
                writes.Add(p with { Offset = next++ });
            }
            if (writes.Count == 0) return;

            var replaced = c.Database.Upsert(writes, next); // the commit point: durable from here on
            Apply(c, writes, next, replaced);
        }
        finally
        {
            _write.Release();
        }
    }

    private static PointWrite[] Prepare(IReadOnlyList<VectorPoint> points, CollectionSpec spec, TextAnalyzer analyzer)
    {
        var prepared = new PointWrite[points.Count];
        for (int i = 0; i < prepared.Length; i++)
        {
            var p = points[i] ?? throw new ArgumentException($"point {i} is null", nameof(points));
            var c = p.Chunk ?? throw new ArgumentException($"point {i} has no chunk", nameof(points));
            if (c.DocumentId is null || c.Url is null || c.Text is null || c.Tokens is null || c.ContinuationText is null
                || c.ContinuationTokens is null || c.Metadata is null || c.Title is null)
            {
                throw new ArgumentException($"point {i} ({c.Id}) has a null payload field", nameof(points));
            }
            if (p.Vector.Length != spec.Dimension)
            {
                throw new ArgumentException($"point {i} ({c.Id}) has {p.Vector.Length} dimensions; the collection has {spec.Dimension}", nameof(points));
            }
            var vector = p.Vector.ToArray();
            foreach (float x in vector)
            {
                if (!float.IsFinite(x)) throw new ArgumentException($"point {i} ({c.Id}) has a non-finite component", nameof(points));
            }
            if (spec.Metric == DistanceMetric.Cosine) VectorMath.Normalize(vector);
            var terms = analyzer.Count(c.Title, c.Text, out int length); // BM25F: the title is a weighted field
            prepared[i] = new PointWrite(c, vector, 0, PayloadDatabase.ContentHash(c, vector), terms, length);
        }
        return prepared;
    }

    /// <summary>Applies a committed batch to the derived state (vectors, id tracker, text index, graph).</summary>
    private void Apply(OpenCollection c, List<PointWrite> writes, uint next, List<DocumentTerms> replaced)
    {
        try
        {
            uint start = (uint)c.NextOffset;
            c.Vectors.EnsureCapacity(next);
            foreach (var w in writes)
            {
                c.Vectors.Write(w.Offset, w.Vector);
                if (c.Tracker.TryGetOffset(w.Chunk.Id, out uint old))
                {
                    c.Tracker.Remove(old);
                    c.Index.Delete(old);
                }
                c.Tracker.Set(w.Offset, w.Chunk.Id, w.Chunk.DocumentId, PayloadDatabase.MetadataJson(w.Chunk.Metadata), w.Hash);
            }
            var added = new List<DocumentTerms>(writes.Count);
            foreach (var w in writes) added.Add(new DocumentTerms(w.Offset, w.Terms, w.Length));
            c.Text.Apply(replaced, added);
            c.Index.Add(start, next, _options.BuildThreads);
            c.NextOffset = next;
            if (c.NextOffset - c.GraphSavedAt >= _options.GraphSaveInterval) SaveDerived(c);
        }
        catch (Exception e)
        {
            // Committed but not applied: the files on disk are still repairable; this instance is not.
            _faulted = e;
            Log.Faulted(_logger, c.Spec.Name, e);
            throw new VectorStoreUnavailableException("the embedded store failed while indexing a committed batch; reopen it to repair", e);
        }
    }

    /// <inheritdoc />
    public async ValueTask<long> DeleteDocumentAsync(string documentId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        cancellationToken.ThrowIfCancellationRequested();
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var c = CurrentForWrite();
            cancellationToken.ThrowIfCancellationRequested();
            var offsets = c.Database.DeleteDocument(documentId, out var removedTerms);
            foreach (uint offset in offsets)
            {
                c.Tracker.Remove(offset);
                c.Index.Delete(offset);
            }
            c.Text.Apply(removedTerms, []);
            return offsets.Count;
        }
        finally
        {
            _write.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var c = CurrentForWrite();
            SaveDerived(c);
            c.Database.Checkpoint();
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>Flushes the vectors, then saves the graph (never ahead of the vectors it needs). Writer only.</summary>
    private static void SaveDerived(OpenCollection c)
    {
        c.Vectors.Flush(c.NextOffset);
        GraphFile.Save(c.Index.Graph, Path.Combine(c.Directory, StoreFiles.Graph), Path.Combine(c.Directory, StoreFiles.GraphConfig), c.Spec.Dimension, c.Spec.Metric);
        c.GraphSavedAt = c.NextOffset;
    }

    // ---------------------------------------------------------------- reads

    /// <inheritdoc />
    public ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        EnterRead();
        try
        {
            return ValueTask.FromResult(Search(Current(), query.Span, options, results.Span, cancellationToken));
        }
        finally
        {
            ExitRead();
        }
    }

    private int Search(OpenCollection c, ReadOnlySpan<float> query, SearchOptions options, Span<SearchHit> results, CancellationToken cancellationToken)
    {
        if (query.Length != c.Spec.Dimension) throw new ArgumentException($"query has {query.Length} dimensions; the collection has {c.Spec.Dimension}", nameof(query));
        if (options.Limit is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(options), options.Limit, "Limit must be in 1..10000");
        if (options.Ef is < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Ef, "Ef must be positive");
        int limit = Math.Min(options.Limit, results.Length);
        if (limit == 0) return 0;
        var filter = options.HasFilter ? new PointFilter(c.Tracker, options) : null;
        if (filter is { MatchesNothing: true }) return 0;

        float[] q = ArrayPool<float>.Shared.Rent(query.Length);
        var found = ArrayPool<Candidate>.Shared.Rent(limit);
        try
        {
            var qs = q.AsSpan(0, query.Length);
            query.CopyTo(qs);
            if (c.Spec.Metric == DistanceMetric.Cosine) VectorMath.Normalize(qs);
            var hits = found.AsSpan(0, limit);
            int n = -1;
            if (options.OnlyDocuments is not null)
            {
                // a short allow-list is searched exactly; a long one (e.g. every training document) goes to the graph
                // with the filter, so stop collecting its points as soon as it is too long for brute force
                var allowed = new List<uint>();
                foreach (var d in options.OnlyDocuments)
                {
                    allowed.AddRange(c.Tracker.OffsetsOf(d));
                    if (allowed.Count > _options.BruteForceThreshold) break;
                }
                if (allowed.Count <= _options.BruteForceThreshold) n = c.Index.BruteForce(qs, limit, allowed, filter, hits, cancellationToken);
            }
            if (n < 0)
            {
                n = c.Index.Search(qs, limit, options.Ef ?? c.Spec.Ef, filter, hits, cancellationToken);
                // Fewer than asked while more points exist: a very selective filter (or tombstones cutting the graph);
                // answer exactly by brute force over the live points.
                if (n < limit && n < c.Tracker.Count) n = c.Index.BruteForce(qs, limit, null, filter, hits, cancellationToken);
            }
            var ids = c.Tracker.Arrays;
            for (int i = 0; i < n; i++) results[i] = new SearchHit(ids.Ids[hits[i].Node], Space.ToScore(hits[i].Distance));
            return n;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(q);
            ArrayPool<Candidate>.Shared.Return(found);
        }
    }

    /// <inheritdoc />
    public ValueTask<int> SearchTextAsync(string query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        EnterRead();
        try
        {
            return ValueTask.FromResult(SearchText(Current(), query, options, results.Span, cancellationToken));
        }
        finally
        {
            ExitRead();
        }
    }

    private static int SearchText(OpenCollection c, string query, SearchOptions options, Span<SearchHit> results, CancellationToken cancellationToken)
    {
        if (options.Limit is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(options), options.Limit, "Limit must be in 1..10000");
        int limit = Math.Min(options.Limit, results.Length);
        if (limit == 0) return 0;
        var filter = options.HasFilter ? new PointFilter(c.Tracker, options) : null;
        if (filter is { MatchesNothing: true }) return 0;
        var terms = c.Analyzer.Count(query, out _);
        if (terms.Length == 0) return 0;
        var found = ArrayPool<(uint Offset, float Score)>.Shared.Rent(limit);
        try
        {
            int n = c.Text.Search(terms, c.Spec.Bm25.K1, c.Spec.Bm25.B, filter, found.AsSpan(0, limit), cancellationToken);
            var ids = c.Tracker.Arrays;
            for (int i = 0; i < n; i++) results[i] = new SearchHit(ids.Ids[found[i].Offset], found[i].Score);
            return n;
        }
        finally
        {
            ArrayPool<(uint Offset, float Score)>.Shared.Return(found);
        }
    }

    /// <inheritdoc />
    public ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult((long)Current().Tracker.Count);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        cancellationToken.ThrowIfCancellationRequested();
        EnterRead();
        try
        {
            return ValueTask.FromResult<IReadOnlyList<Chunk?>>(Current().Database.GetChunks(ids, cancellationToken));
        }
        finally
        {
            ExitRead();
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> IsHealthyAsync(CancellationToken cancellationToken = default)
    {
        if (_disposed || _faulted is not null || _open is null) return ValueTask.FromResult(false);
        try
        {
            EnterRead();
            try { return ValueTask.FromResult(_open.Database.Ping()); }
            finally { ExitRead(); }
        }
        catch (Exception)
        {
            return ValueTask.FromResult(false);
        }
    }

    // ---------------------------------------------------------------- ingest checkpoints

    /// <inheritdoc />
    public ValueTask<IngestCheckpoint?> GetAsync(string shardKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shardKey);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Current().Database.GetCheckpoint(shardKey));
    }

    /// <inheritdoc />
    public async ValueTask SetAsync(IngestCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(checkpoint.ShardKey, nameof(checkpoint));
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            CurrentForWrite().Database.SetCheckpoint(checkpoint);
        }
        finally
        {
            _write.Release();
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<IngestCheckpoint>> ListAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IReadOnlyList<IngestCheckpoint>>(Current().Database.ListCheckpoints());
    }

    // ---------------------------------------------------------------- lifetime

    /// <summary>Saves the derived files (so the next open needs no repair) and releases every file. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        await _write.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            var spin = new SpinWait();
            while (Volatile.Read(ref _readers) > 0) spin.SpinOnce();
            if (_open is { } c)
            {
                try
                {
                    if (_faulted is null) SaveDerived(c);
                }
                finally
                {
                    c.Dispose();
                }
            }
        }
        finally
        {
            _write.Release();
        }
    }

    private void EnterRead()
    {
        Interlocked.Increment(ref _readers);
        if (_disposed)
        {
            Interlocked.Decrement(ref _readers);
            throw new ObjectDisposedException(nameof(EmbeddedVectorStore));
        }
    }

    private void ExitRead() => Interlocked.Decrement(ref _readers);

    private OpenCollection Current()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _open ?? throw new InvalidOperationException("no collection is open: call EnsureCollectionAsync first");
    }

    private OpenCollection CurrentForWrite()
    {
        var c = Current();
        if (_faulted is not null) throw new VectorStoreUnavailableException("the embedded store faulted; reopen it to repair", _faulted);
        return c;
    }
}
