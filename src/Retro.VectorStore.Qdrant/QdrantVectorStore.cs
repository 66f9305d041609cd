using System.ComponentModel.DataAnnotations;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Qdrant.Client;
using Qdrant.Client.Grpc;
using Retro.Core;
using Retro.Core.Options;
using Retro.Core.Text;
using Distance = Qdrant.Client.Grpc.Distance;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// <see cref="IVectorStore"/> over a Qdrant server or cluster, through the official gRPC client
/// (<see cref="QdrantConnection"/>). A chunk is one point: id = the chunk's UUID, vector = its embedding, payload =
/// every other field of <see cref="Chunk"/> (snake_case, <see cref="QdrantPayload"/>). Writes wait until applied
/// (<c>wait=true</c>), which Qdrant acknowledges once the write-ahead log holds them. Scores follow
/// <see cref="SearchHit"/>: higher is closer (Euclid: negative squared distance). Ingest checkpoints live in a side
/// collection (<c>&lt;name&gt;__checkpoints</c>) so that counts and searches of the main collection see chunks only.
/// Text search: each point also carries a sparse BM25 vector (<see cref="QdrantOptions.SparseVectorName"/>, IDF
/// modifier): indices are <see cref="TextAnalyzer.TermId"/>s of the chunk's title and text (BM25F: a title term counts
/// <see cref="Bm25Options.TitleWeight"/> times), values the document side of BM25 with the collection's k1, b and
/// <see cref="Bm25Options.AverageLength"/>; Qdrant multiplies by the IDF at query time. The analysis (stop words,
/// stemming, title weight) is kept in the collection's metadata and checked on open. Thread-safe after
/// <see cref="EnsureCollectionAsync"/>.
/// </summary>
public sealed partial class QdrantVectorStore : IVectorStore, IIngestCheckpoints, ITextSearch
{
    /// <summary>Ids per retrieve call when fetching chunks.</summary>
    private const int RetrieveBatch = 1024;

    /// <summary>Collection metadata key of the BM25 analysis the sparse vectors were built with.</summary>
    internal const string AnalysisMetadataKey = "retro_text_analysis";

    private readonly QdrantConnection _connection;
    private readonly QdrantOptions _options;
    private readonly ILogger _logger;
    private readonly bool _ownsConnection;
    private CollectionSpec? _collection;
    private TextAnalyzer? _analyzer;
    private string? _sparseName;

    /// <summary>A store over <paramref name="connection"/> (disposed with the store when <paramref name="ownsConnection"/>).</summary>
    public QdrantVectorStore(QdrantConnection connection, QdrantOptions? options = null, ILogger? logger = null, bool ownsConnection = false)
    {
        _connection = connection ?? throw new ArgumentNullException(nameof(connection));
        _options = options ?? new QdrantOptions();
        _logger = logger ?? NullLogger.Instance;
        _ownsConnection = ownsConnection;
    }

    /// <summary>A store with its own connection (<see cref="QdrantConnection.Open"/>) for <paramref name="store"/>'s url, API key and timeout.</summary>
    public static QdrantVectorStore Create(VectorStoreOptions store, QdrantOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var connection = QdrantConnection.Open(store, options, loggerFactory);
        return new QdrantVectorStore(connection, options, loggerFactory?.CreateLogger<QdrantVectorStore>(), ownsConnection: true);
    }

    /// <summary>The official client of this store's connection (snapshots, aliases, administration).</summary>
    public QdrantClient Client => _connection.Client;

    /// <summary>The connection every call of this store goes through.</summary>
    public QdrantConnection Connection => _connection;

    /// <inheritdoc />
    public CollectionSpec Collection => _collection ?? throw new InvalidOperationException("Call EnsureCollectionAsync before using the Qdrant store.");

    private string CheckpointCollection => Collection.Name + "__checkpoints";

    // ---------------------------------------------------------------- collection

    /// <inheritdoc />
    public async ValueTask EnsureCollectionAsync(CollectionSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(spec.Bm25, nameof(spec));
        spec.Bm25.Validate();
        var problems = new List<ValidationResult>();
        if (!Validator.TryValidateObject(spec, new ValidationContext(spec), problems, validateAllProperties: true))
            throw new ArgumentException($"Invalid collection spec: {string.Join("; ", problems.Select(p => p.ErrorMessage))}", nameof(spec));
        if (spec.Name.EndsWith("__checkpoints", StringComparison.Ordinal))
            throw new ArgumentException("Collection names ending in '__checkpoints' are reserved for ingest checkpoints.", nameof(spec));

        var existing = await GetCollectionAsync(spec.Name, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            try
            {
                await _connection.CallAsync("Collections/Create", (c, ct) => c.CreateCollectionAsync(CreateRequest(spec), ct), cancellationToken).ConfigureAwait(false);
                Log.CreatedCollection(_logger, spec.Name, spec.Dimension, spec.Metric.ToString());
            }
            catch (QdrantException e) when (IsAlreadyExists(e))
            {
                // Created concurrently by another process: check it like any existing collection.
                existing = await GetCollectionAsync(spec.Name, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"Qdrant collection '{spec.Name}' was reported as existing but cannot be read.", e);
            }
        }
        string? sparse = string.IsNullOrEmpty(_options.SparseVectorName) ? null : _options.SparseVectorName;
        if (existing is not null)
        {
            CheckCompatible(spec, existing);
            if (sparse is not null && !(existing.Config.Params.SparseVectorsConfig?.Map.TryGetValue(sparse, out var p) == true && p.Modifier == Modifier.Idf))
            {
                Log.NoSparseVector(_logger, spec.Name, sparse);
                sparse = null;
            }
        }
        // Idempotent: a no-op when the index exists; needed for fast delete-by-document and document filters.
        await _connection.CallAsync("Points/CreateFieldIndex", (c, ct) => c.CreatePayloadIndexAsync(spec.Name, QdrantFilters.DocumentIdField, PayloadSchemaType.Keyword,
            wait: true, cancellationToken: ct), cancellationToken).ConfigureAwait(false);
        _collection = spec;
        _analyzer = new TextAnalyzer(spec.Bm25);
        _sparseName = sparse;
        _checkpointCollectionReady = false;
    }

    /// <summary>A collection's configuration, or null when it does not exist.</summary>
    private async Task<CollectionInfo?> GetCollectionAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await _connection.CallAsync("Collections/Get", (c, ct) => c.GetCollectionInfoAsync(name, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (QdrantException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Qdrant answers a duplicate create with <c>ALREADY_EXISTS</c> (or, in older versions, <c>INVALID_ARGUMENT</c> "already exists").</summary>
    private static bool IsAlreadyExists(QdrantException e)
        => e.StatusCode == StatusCode.AlreadyExists || (e.StatusCode == StatusCode.InvalidArgument && e.Error.Contains("already exists", StringComparison.OrdinalIgnoreCase));

    private CreateCollection CreateRequest(CollectionSpec spec)
    {
        var request = new CreateCollection
        {
            CollectionName = spec.Name,
            VectorsConfig = new VectorsConfig { Params = new VectorParams { Size = (ulong)spec.Dimension, Distance = ToQdrant(spec.Metric) } },
            HnswConfig = new HnswConfigDiff { M = (ulong)spec.M, EfConstruct = (ulong)spec.EfConstruction },
        };
        if (spec.Quantization == QuantizationKind.Int8)
            request.QuantizationConfig = new QuantizationConfig { Scalar = new ScalarQuantization { Type = QuantizationType.Int8, Quantile = 0.99f, Memory = Memory.Pinned } };
        if (_options.ShardNumber is { } shards) request.ShardNumber = (uint)shards;
        if (_options.ReplicationFactor is { } replicas) request.ReplicationFactor = (uint)replicas;
        if (_options.WriteConsistencyFactor is { } consistency) request.WriteConsistencyFactor = (uint)consistency;
        if (!string.IsNullOrEmpty(_options.SparseVectorName))
        {
            request.SparseVectorsConfig = new SparseVectorConfig();
            request.SparseVectorsConfig.Map[_options.SparseVectorName] = new SparseVectorParams { Modifier = Modifier.Idf };
        }
        request.Metadata[AnalysisMetadataKey] = AnalysisValue(spec.Bm25);
        return request;
    }

    /// <summary>The analysis part of <paramref name="bm25"/> (what changes the sparse vectors' terms and counts) as collection metadata.</summary>
    internal static Value AnalysisValue(Bm25Options bm25)
    {
        var analysis = new Struct();
        analysis.Fields["stop_words"] = bm25.StopWords;
        analysis.Fields["stemming"] = bm25.Stemming;
        analysis.Fields["title_weight"] = bm25.TitleWeight;
        return new Value { StructValue = analysis };
    }

    private static void CheckCompatible(CollectionSpec spec, CollectionInfo info)
    {
        var vectors = info.Config.Params.VectorsConfig?.ConfigCase == VectorsConfig.ConfigOneofCase.Params ? info.Config.Params.VectorsConfig.Params : null;
        if (vectors is null)
            throw new InvalidOperationException($"Qdrant collection '{spec.Name}' exists with named or no dense vectors; Retro needs one unnamed vector of {spec.Dimension} dimensions.");
        if (vectors.Size != (ulong)spec.Dimension || vectors.Distance != ToQdrant(spec.Metric))
            throw new InvalidOperationException(
                $"Qdrant collection '{spec.Name}' exists with {vectors.Size} dimensions and {vectors.Distance} distance, but {spec.Dimension} and {ToQdrant(spec.Metric)} were asked for. " +
                "Use another collection name or delete the existing collection.");
        // Collections made before the analysis was recorded carry none: they are taken as they are.
        if (info.Config.Metadata.TryGetValue(AnalysisMetadataKey, out var stored) && !stored.Equals(AnalysisValue(spec.Bm25)))
            throw new InvalidOperationException(
                $"Qdrant collection '{spec.Name}' was indexed with BM25 analysis {stored} but {AnalysisValue(spec.Bm25)} was asked for (stop words, stemming and title weight change the sparse vectors). " +
                "Re-index into another collection, or ask for the stored analysis.");
    }

    /// <summary>Core metric → Qdrant distance.</summary>
    public static Distance ToQdrant(DistanceMetric metric) => metric switch
    {
        DistanceMetric.Cosine => Distance.Cosine,
        DistanceMetric.Dot => Distance.Dot,
        DistanceMetric.Euclid => Distance.Euclid,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown distance metric."),
    };

    /// <summary>
    /// Qdrant score → <see cref="SearchHit.Score"/>: Cosine and Dot are similarities already; Qdrant's Euclid score is
    /// the distance d, returned as −d² (the Core contract, higher is closer).
    /// </summary>
    public static float ToSearchScore(DistanceMetric metric, float qdrantScore)
        => metric == DistanceMetric.Euclid ? -(qdrantScore * qdrantScore) : qdrantScore;

    // ---------------------------------------------------------------- writes

    /// <inheritdoc />
    public async ValueTask UpsertAsync(IReadOnlyList<VectorPoint> points, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(points);
        var spec = Collection;
        if (points.Count == 0) return;
        var structs = new PointStruct[points.Count];
        for (int i = 0; i < structs.Length; i++)
        {
            var point = points[i] ?? throw new ArgumentException($"Point {i} is null.", nameof(points));
            if (point.Vector.Length != spec.Dimension)
                throw new ArgumentException($"Point {i} ({point.Id}) has {point.Vector.Length} dimensions; collection '{spec.Name}' has {spec.Dimension}.", nameof(points));
            if (!AllFinite(point.Vector.Span))
                throw new ArgumentException($"Point {i} ({point.Id}) has a NaN or infinite component.", nameof(points));
            structs[i] = ToPoint(point, spec.Bm25);
        }
        await UpsertPointsAsync(spec.Name, structs, _options.UpsertBatchSize, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The point of <paramref name="point"/>: the dense vector alone, or, with the BM25 sparse vector, named vectors whose
    /// <c>""</c> member is the unnamed dense vector (Qdrant's default vector name).
    /// </summary>
    private PointStruct ToPoint(VectorPoint point, Bm25Options bm25)
    {
        var dense = new DenseVector();
        dense.Data.AddRange(point.Vector.Span.ToArray());
        var result = new PointStruct { Id = new PointId { Uuid = point.Id.ToString() }, Vectors = new Vectors() };
        if (_sparseName is not null && DocumentVector(point.Chunk.Title, point.Chunk.Text, bm25) is { } sparse)
        {
            var named = new NamedVectors();
            named.Vectors.Add("", new Vector { Dense = dense });
            named.Vectors.Add(_sparseName, new Vector { Sparse = sparse });
            result.Vectors.Vectors_ = named;
        }
        else
        {
            result.Vectors.Vector = new Vector { Dense = dense };
        }
        QdrantPayload.Write(point.Chunk, result.Payload);
        return result;
    }

    /// <summary>
    /// Upserts <paramref name="points"/> in order, <paramref name="batchSize"/> per call, each acknowledged only once
    /// applied (<c>wait=true</c>). A batch whose encoding would exceed <see cref="QdrantOptions.MaxRequestMegabytes"/> is
    /// split in halves. A failure leaves the earlier batches written.
    /// </summary>
    internal async Task UpsertPointsAsync(string collection, IReadOnlyList<PointStruct> points, int batchSize, CancellationToken cancellationToken)
    {
        for (int start = 0; start < points.Count; start += batchSize)
        {
            var request = new UpsertPoints { CollectionName = collection, Wait = true };
            for (int i = start; i < Math.Min(points.Count, start + batchSize); i++) request.Points.Add(points[i]);
            await UpsertBatchAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task UpsertBatchAsync(UpsertPoints request, CancellationToken cancellationToken)
    {
        if (request.CalculateSize() > _options.MaxRequestBytes && request.Points.Count > 1)
        {
            int half = request.Points.Count / 2;
            var first = new UpsertPoints { CollectionName = request.CollectionName, Wait = true };
            var second = new UpsertPoints { CollectionName = request.CollectionName, Wait = true };
            for (int i = 0; i < request.Points.Count; i++) (i < half ? first : second).Points.Add(request.Points[i]);
            await UpsertBatchAsync(first, cancellationToken).ConfigureAwait(false);
            await UpsertBatchAsync(second, cancellationToken).ConfigureAwait(false);
            return;
        }
        var result = await _connection.CallAsync("Points/Upsert", (c, ct) => c.UpsertAsync(request, ct), cancellationToken).ConfigureAwait(false);
        EnsureCompleted(result, "Points/Upsert");
    }

    /// <summary>With <c>wait=true</c> Qdrant answers "completed"; anything else means the write is queued but not yet applied.</summary>
    private static void EnsureCompleted(UpdateResult result, string operation)
    {
        if (result.Status != UpdateStatus.Completed)
            throw new VectorStoreUnavailableException($"Qdrant {operation} was not applied in time (status '{result.Status}'); retry the write.");
    }

    /// <summary>Counts the document's points, then deletes them by filter; the count is exact unless writes to the same document race the delete.</summary>
    public async ValueTask<long> DeleteDocumentAsync(string documentId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        var spec = Collection;
        var filter = QdrantFilters.Document(documentId);
        ulong count = await _connection.CallAsync("Points/Count", (c, ct) => c.CountAsync(spec.Name, filter, exact: true, cancellationToken: ct), cancellationToken).ConfigureAwait(false);
        if (count == 0) return 0;
        var result = await _connection.CallAsync("Points/Delete", (c, ct) => c.DeleteAsync(spec.Name, filter, wait: true, cancellationToken: ct), cancellationToken).ConfigureAwait(false);
        EnsureCompleted(result, "Points/Delete");
        return (long)count;
    }

    /// <summary>
    /// Nothing to do remotely: every write already waited until Qdrant applied it and logged it to its WAL, and Qdrant's
    /// optimizers compact segments on their own. Checks the collection was opened.
    /// </summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        _ = Collection;
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.CompletedTask;
    }

    // ---------------------------------------------------------------- reads

    /// <inheritdoc />
    public async ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var spec = Collection;
        CheckQueryVector(query, spec, nameof(query));
        CheckLimit(options);
        if (options.Ef is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Ef, "SearchOptions.Ef must be positive.");
        int limit = Math.Min(options.Limit, results.Length);
        if (limit == 0 || options.OnlyDocuments is { Count: 0 }) return 0;
        var dense = query.ToArray();
        var hits = await _connection.CallAsync("Points/Query", (c, ct) => c.QueryAsync(spec.Name, query: dense, filter: QdrantFilters.From(options),
            searchParams: new SearchParams { HnswEf = (ulong)Math.Max(options.Ef ?? spec.Ef, limit) }, limit: (ulong)limit,
            payloadSelector: false, cancellationToken: ct), cancellationToken).ConfigureAwait(false);
        return WriteHits(hits, limit, results.Span, spec, metricScores: true);
    }

    /// <inheritdoc />
    public async ValueTask<int> SearchTextAsync(string query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(options);
        var spec = Collection;
        string sparse = _sparseName ?? throw new InvalidOperationException(
            $"Qdrant collection '{spec.Name}' has no sparse vector '{_options.SparseVectorName}' with the IDF modifier (created before text search, or the name is off); re-create it to search text.");
        CheckLimit(options);
        int limit = Math.Min(options.Limit, results.Length);
        if (limit == 0 || options.OnlyDocuments is { Count: 0 }) return 0;
        if (QueryVector(query) is not { } vector) return 0;
        var hits = await _connection.CallAsync("Points/Query", (c, ct) => c.QueryAsync(spec.Name, query: new Query { Nearest = new VectorInput { Sparse = vector } },
            usingVector: sparse, filter: QdrantFilters.From(options), limit: (ulong)limit, payloadSelector: false, cancellationToken: ct), cancellationToken).ConfigureAwait(false);
        return WriteHits(hits, limit, results.Span, spec, metricScores: false);
    }

    /// <summary>
    /// Hybrid search in one <c>Query</c> call: the dense and the sparse query as prefetches of
    /// <paramref name="options"/>.Limit each, fused by Qdrant's RRF with <paramref name="rrfK"/>. Scores are RRF scores;
    /// hits carry no <see cref="SearchHit.Source"/> (the server does not say which prefetch found them: the
    /// <see cref="Retriever"/> fuses client-side when it must report sources).
    /// </summary>
    public async ValueTask<int> HybridSearchAsync(ReadOnlyMemory<float> vector, string text, SearchOptions options, int rrfK, Memory<SearchHit> results,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(rrfK, 1);
        var spec = Collection;
        string sparse = _sparseName ?? throw new InvalidOperationException($"Qdrant collection '{spec.Name}' has no BM25 sparse vector; re-create it to search text.");
        CheckQueryVector(vector, spec, nameof(vector));
        CheckLimit(options);
        int limit = Math.Min(options.Limit, results.Length);
        if (limit == 0 || options.OnlyDocuments is { Count: 0 }) return 0;
        var filter = QdrantFilters.From(options);
        var denseQuery = new DenseVector();
        denseQuery.Data.AddRange(vector.Span.ToArray());
        var prefetch = new List<PrefetchQuery>
        {
            WithFilter(new PrefetchQuery
            {
                Query = new Query { Nearest = new VectorInput { Dense = denseQuery } },
                Limit = (ulong)limit,
                Params = new SearchParams { HnswEf = (ulong)Math.Max(options.Ef ?? spec.Ef, limit) },
            }, filter),
        };
        if (QueryVector(text) is { } sparseVector)
        {
            prefetch.Add(WithFilter(new PrefetchQuery { Query = new Query { Nearest = new VectorInput { Sparse = sparseVector } }, Using = sparse, Limit = (ulong)limit }, filter));
        }
        var hits = await _connection.CallAsync("Points/Query", (c, ct) => c.QueryAsync(spec.Name, query: new Query { Rrf = new Rrf { K = (uint)rrfK } }, prefetch: prefetch,
            filter: filter, limit: (ulong)limit, payloadSelector: false, cancellationToken: ct), cancellationToken).ConfigureAwait(false);
        return WriteHits(hits, limit, results.Span, spec, metricScores: false);
    }

    private static PrefetchQuery WithFilter(PrefetchQuery prefetch, Filter? filter)
    {
        if (filter is not null) prefetch.Filter = filter;
        return prefetch;
    }

    /// <summary>
    /// The document side of BM25F as a sparse vector: per distinct term of <paramref name="title"/> (weighted) and
    /// <paramref name="text"/>, tf · (k1 + 1) / (tf + k1 · (1 − b + b · |d| / avg)), with the configured average length;
    /// null for a chunk without terms.
    /// </summary>
    internal SparseVector? DocumentVector(string title, string text, Bm25Options bm25)
    {
        var terms = _analyzer!.Count(title ?? "", text ?? "", out int length);
        if (terms.Length == 0) return null;
        var vector = new SparseVector();
        foreach (var term in terms)
        {
            vector.Indices.Add(term.Term);
            vector.Values.Add(Bm25.TermWeight(term.Count, length, bm25.AverageLength, bm25.K1, bm25.B));
        }
        return vector;
    }

    /// <summary>The query side: per distinct term its count in the query (Qdrant's IDF modifier supplies the idf); null without terms.</summary>
    private SparseVector? QueryVector(string text)
    {
        var terms = _analyzer!.Count(text, out _);
        if (terms.Length == 0) return null;
        var vector = new SparseVector();
        foreach (var term in terms)
        {
            vector.Indices.Add(term.Term);
            vector.Values.Add(term.Count);
        }
        return vector;
    }

    private static void CheckQueryVector(ReadOnlyMemory<float> query, CollectionSpec spec, string name)
    {
        if (query.Length != spec.Dimension)
            throw new ArgumentException($"The query has {query.Length} dimensions; collection '{spec.Name}' has {spec.Dimension}.", name);
        if (!AllFinite(query.Span)) throw new ArgumentException("The query has a NaN or infinite component.", name);
    }

    private static void CheckLimit(SearchOptions options)
    {
        if (options.Limit is < 1 or > 10_000)
            throw new ArgumentOutOfRangeException(nameof(options), options.Limit, "SearchOptions.Limit must be in 1..10,000.");
    }

    private static int WriteHits(IReadOnlyList<ScoredPoint> hits, int limit, Span<SearchHit> span, CollectionSpec spec, bool metricScores)
    {
        int written = Math.Min(limit, hits.Count);
        for (int i = 0; i < written; i++)
        {
            var hit = hits[i];
            float score = metricScores ? ToSearchScore(spec.Metric, hit.Score) : hit.Score;
            span[i] = new SearchHit(ToChunkId(hit.Id, spec.Name), score);
        }
        return written;
    }

    private static ChunkId ToChunkId(PointId id, string collection)
        => id.PointIdOptionsCase == PointId.PointIdOptionsOneofCase.Uuid && Guid.TryParse(id.Uuid, out var guid)
            ? new ChunkId(guid)
            : throw new InvalidDataException($"Qdrant collection '{collection}' holds point {id}, which is not a Retro chunk id.");

    /// <inheritdoc />
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
    {
        string name = Collection.Name;
        return (long)await _connection.CallAsync("Points/Count", (c, ct) => c.CountAsync(name, exact: true, cancellationToken: ct), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var spec = Collection;
        var chunks = new Chunk?[ids.Count];
        if (ids.Count == 0) return chunks;
        var found = new Dictionary<Guid, Chunk>(ids.Count);
        for (int start = 0; start < ids.Count; start += RetrieveBatch)
        {
            int count = Math.Min(RetrieveBatch, ids.Count - start);
            var batch = new List<PointId>(count);
            var seen = new HashSet<Guid>(count);
            for (int i = 0; i < count; i++)
            {
                var id = ids[start + i].Value;
                if (!found.ContainsKey(id) && seen.Add(id)) batch.Add(new PointId { Uuid = id.ToString() });
            }
            if (batch.Count == 0) continue;
            var records = await _connection.CallAsync("Points/Get", (c, ct) => c.RetrieveAsync(spec.Name, batch, withPayload: true, withVectors: false, cancellationToken: ct),
                cancellationToken).ConfigureAwait(false);
            foreach (var record in records)
            {
                if (record.Id.PointIdOptionsCase != PointId.PointIdOptionsOneofCase.Uuid || !Guid.TryParse(record.Id.Uuid, out var guid)) continue;
                found[guid] = QdrantPayload.Read(new ChunkId(guid), record.Payload, spec.Name);
            }
        }
        for (int i = 0; i < chunks.Length; i++)
            chunks[i] = found.TryGetValue(ids[i].Value, out var chunk) ? chunk : null;
        return chunks;
    }

    /// <inheritdoc />
    public async ValueTask<bool> IsHealthyAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _connection.IsHealthyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (_ownsConnection) _connection.Dispose();
        return ValueTask.CompletedTask;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (!float.IsFinite(v)) return false;
        }
        return true;
    }
}
