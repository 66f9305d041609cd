using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Retro.Core;
using Retro.VectorStore.Qdrant.Rest;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// <see cref="IVectorStore"/> over a Qdrant server or cluster. A chunk is one point: id = the chunk's UUID, vector =
/// its embedding, payload = every other field of <see cref="Chunk"/> (snake_case). Writes wait until applied
/// (<c>wait=true</c>), which Qdrant acknowledges once the write-ahead log holds them. Scores follow
/// <see cref="SearchHit"/>: higher is closer (Euclid: negative squared distance). Ingest checkpoints live in a side
/// collection (<c>&lt;name&gt;__checkpoints</c>) so that counts and searches of the main collection see chunks only.
/// Text search: each point also carries a sparse BM25 vector (<see cref="QdrantOptions.SparseVectorName"/>, IDF
/// modifier): indices are <see cref="TextAnalyzer.TermId"/>s of the chunk text, values the document side of BM25 with the
/// collection's k1, b and <see cref="Bm25Options.AverageLength"/>; Qdrant multiplies by the IDF at query time.
/// Thread-safe after <see cref="EnsureCollectionAsync"/>.
/// </summary>
public sealed partial class QdrantVectorStore : IVectorStore, IIngestCheckpoints, ITextSearch
{
    /// <summary>Ids per retrieve request when fetching chunks.</summary>
    private const int RetrieveBatch = 1024;

    private readonly QdrantClient _client;
    private readonly QdrantOptions _options;
    private readonly ILogger _logger;
    private readonly bool _ownsClient;
    private CollectionSpec? _collection;
    private TextAnalyzer? _analyzer;
    private string? _sparseName;

    /// <summary>A store over <paramref name="client"/> (disposed with the store when <paramref name="ownsClient"/>).</summary>
    public QdrantVectorStore(QdrantClient client, QdrantOptions? options = null, ILogger? logger = null, bool ownsClient = false)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        _options = options ?? new QdrantOptions();
        _logger = logger ?? NullLogger.Instance;
        _ownsClient = ownsClient;
    }

    /// <summary>
    /// A store with its own <see cref="HttpClient"/> (pooled connections recycled every 2 minutes so DNS changes of a
    /// cluster are seen) for <paramref name="store"/>'s url, API key and timeout.
    /// </summary>
    public static QdrantVectorStore Create(VectorStoreOptions store, QdrantOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2), AutomaticDecompression = DecompressionMethods.All };
        var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan }; // per-attempt timeouts come from the pipeline
        var client = new QdrantClient(http, store, options, loggerFactory?.CreateLogger<QdrantClient>(), ownsHttp: true);
        return new QdrantVectorStore(client, options, loggerFactory?.CreateLogger<QdrantVectorStore>(), ownsClient: true);
    }

    /// <summary>The underlying REST client (snapshots, aliases, administration).</summary>
    public QdrantClient Client => _client;

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

        var existing = await _client.GetCollectionAsync(spec.Name, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            try
            {
                await _client.CreateCollectionAsync(spec.Name, CreateRequest(spec), cancellationToken).ConfigureAwait(false);
                Log.CreatedCollection(_logger, spec.Name, spec.Dimension, spec.Metric.ToString());
            }
            catch (QdrantException e) when (e.StatusCode == HttpStatusCode.Conflict)
            {
                // Created concurrently by another process: check it like any existing collection.
                existing = await _client.GetCollectionAsync(spec.Name, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"Qdrant collection '{spec.Name}' was reported as existing but cannot be read.", e);
            }
        }
        string? sparse = string.IsNullOrEmpty(_options.SparseVectorName) ? null : _options.SparseVectorName;
        if (existing is not null)
        {
            CheckCompatible(spec, existing);
            if (sparse is not null && !(existing.Config.Params.SparseVectors?.TryGetValue(sparse, out var p) == true && p.Modifier == "idf"))
            {
                Log.NoSparseVector(_logger, spec.Name, sparse);
                sparse = null;
            }
        }
        // Idempotent: a no-op when the index exists; needed for fast delete-by-document and document filters.
        await _client.CreatePayloadIndexAsync(spec.Name, QdrantFilters.DocumentIdField, PayloadSchemaType.Keyword, cancellationToken).ConfigureAwait(false);
        _collection = spec;
        _analyzer = new TextAnalyzer(spec.Bm25);
        _sparseName = sparse;
        _checkpointCollectionReady = false;
    }

    private CreateCollectionRequest CreateRequest(CollectionSpec spec) => new()
    {
        Vectors = new VectorParams { Size = (ulong)spec.Dimension, Distance = ToQdrant(spec.Metric) },
        HnswConfig = new HnswConfigDiff { M = (uint)spec.M, EfConstruct = (uint)spec.EfConstruction },
        QuantizationConfig = spec.Quantization == QuantizationKind.Int8
            ? new QuantizationConfig { Scalar = new ScalarQuantizationConfig { Type = "int8", Quantile = 0.99f, AlwaysRam = true } }
            : null,
        ShardNumber = (uint?)_options.ShardNumber,
        ReplicationFactor = (uint?)_options.ReplicationFactor,
        WriteConsistencyFactor = (uint?)_options.WriteConsistencyFactor,
        SparseVectors = string.IsNullOrEmpty(_options.SparseVectorName)
            ? null
            : new Dictionary<string, SparseVectorParams> { [_options.SparseVectorName] = new SparseVectorParams { Modifier = "idf" } },
    };

    private static void CheckCompatible(CollectionSpec spec, CollectionInfo info)
    {
        var vectors = info.Config.Params.Vectors?.Single
            ?? throw new InvalidOperationException($"Qdrant collection '{spec.Name}' exists with named or no dense vectors; Retro needs one unnamed vector of {spec.Dimension} dimensions.");
        if (vectors.Size != (ulong)spec.Dimension || vectors.Distance != ToQdrant(spec.Metric))
            throw new InvalidOperationException(
                $"Qdrant collection '{spec.Name}' exists with {vectors.Size} dimensions and {vectors.Distance} distance, but {spec.Dimension} and {ToQdrant(spec.Metric)} were asked for. " +
                "Use another collection name or delete the existing collection.");
    }

    /// <summary>Core metric → Qdrant distance.</summary>
    public static QdrantDistance ToQdrant(DistanceMetric metric) => metric switch
    {
        DistanceMetric.Cosine => QdrantDistance.Cosine,
        DistanceMetric.Dot => QdrantDistance.Dot,
        DistanceMetric.Euclid => QdrantDistance.Euclid,
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
            structs[i] = new PointStruct
            {
                Id = PointId.FromUuid(point.Id.Value),
                Vector = point.Vector,
                Payload = JsonSerializer.SerializeToElement(ToPayload(point.Chunk), QdrantJsonContext.Default.ChunkPayload),
                Sparse = _sparseName is null || point.Chunk.Text is null ? null : DocumentVector(point.Chunk.Text, spec.Bm25) is { } v
                    ? new Dictionary<string, SparseVector> { [_sparseName] = v }
                    : null,
            };
        }
        await _client.UpsertPointsAsync(spec.Name, structs, _options.UpsertBatchSize, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Counts the document's points, then deletes them by filter; the count is exact unless writes to the same document race the delete.</summary>
    public async ValueTask<long> DeleteDocumentAsync(string documentId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(documentId);
        var spec = Collection;
        var filter = QdrantFilters.Document(documentId);
        ulong count = await _client.CountPointsAsync(spec.Name, new CountRequest { Filter = filter, Exact = true }, cancellationToken).ConfigureAwait(false);
        if (count == 0) return 0;
        await _client.DeletePointsAsync(spec.Name, new PointsSelector { Filter = filter }, cancellationToken).ConfigureAwait(false);
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
        if (query.Length != spec.Dimension)
            throw new ArgumentException($"The query has {query.Length} dimensions; collection '{spec.Name}' has {spec.Dimension}.", nameof(query));
        if (options.Limit is < 1 or > 10_000)
            throw new ArgumentOutOfRangeException(nameof(options), options.Limit, "SearchOptions.Limit must be in 1..10,000.");
        if (options.Ef is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Ef, "SearchOptions.Ef must be positive.");
        if (!AllFinite(query.Span)) throw new ArgumentException("The query has a NaN or infinite component.", nameof(query));
        int limit = Math.Min(options.Limit, results.Length);
        if (limit == 0 || options.OnlyDocuments is { Count: 0 }) return 0;

        var request = new QueryRequest
        {
            Query = query,
            Limit = (uint)limit,
            Filter = QdrantFilters.From(options),
            Params = new SearchParams { HnswEf = (uint)Math.Max(options.Ef ?? spec.Ef, limit) },
            WithPayload = false,
        };
        var response = await _client.QueryPointsAsync(spec.Name, request, cancellationToken).ConfigureAwait(false);
        int written = Math.Min(limit, response.Points.Count);
        var span = results.Span;
        for (int i = 0; i < written; i++)
        {
            var hit = response.Points[i];
            if (!hit.Id.IsUuid) throw new InvalidDataException($"Qdrant collection '{spec.Name}' holds point {hit.Id}, which is not a Retro chunk id.");
            span[i] = new SearchHit(new ChunkId(hit.Id.Uuid), ToSearchScore(spec.Metric, hit.Score));
        }
        return written;
    }

    /// <summary>
    /// The document side of BM25 as a sparse vector: per distinct term, tf · (k1 + 1) / (tf + k1 · (1 − b + b · |d| / avg)),
    /// with the configured average length; null for a text without terms.
    /// </summary>
    internal SparseVector? DocumentVector(string text, Bm25Options bm25)
    {
        var terms = _analyzer!.Count(text, out int length);
        if (terms.Length == 0) return null;
        var indices = new uint[terms.Length];
        var values = new float[terms.Length];
        for (int i = 0; i < terms.Length; i++)
        {
            indices[i] = terms[i].Term;
            values[i] = Bm25.TermWeight(terms[i].Count, length, bm25.AverageLength, bm25.K1, bm25.B);
        }
        return new SparseVector { Indices = indices, Values = values };
    }

    /// <summary>The query side: per distinct term its count in the query (Qdrant's IDF modifier supplies the idf); null without terms.</summary>
    private SparseVector? QueryVector(string text)
    {
        var terms = _analyzer!.Count(text, out _);
        if (terms.Length == 0) return null;
        var indices = new uint[terms.Length];
        var values = new float[terms.Length];
        for (int i = 0; i < terms.Length; i++)
        {
            indices[i] = terms[i].Term;
            values[i] = terms[i].Count;
        }
        return new SparseVector { Indices = indices, Values = values };
    }

    /// <inheritdoc />
    public async ValueTask<int> SearchTextAsync(string query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(options);
        var spec = Collection;
        string sparse = _sparseName ?? throw new InvalidOperationException(
            $"Qdrant collection '{spec.Name}' has no sparse vector '{_options.SparseVectorName}' with the IDF modifier (created before text search, or the name is off); re-create it to search text.");
        if (options.Limit is < 1 or > 10_000)
            throw new ArgumentOutOfRangeException(nameof(options), options.Limit, "SearchOptions.Limit must be in 1..10,000.");
        int limit = Math.Min(options.Limit, results.Length);
        if (limit == 0 || options.OnlyDocuments is { Count: 0 }) return 0;
        if (QueryVector(query) is not { } vector) return 0;
        var response = await _client.QuerySparseAsync(spec.Name, new SparseQueryRequest
        {
            Query = vector,
            Using = sparse,
            Limit = (uint)limit,
            Filter = QdrantFilters.From(options),
            WithPayload = false,
        }, cancellationToken).ConfigureAwait(false);
        return WriteHits(response, limit, results.Span, s => s, spec.Name);
    }

    /// <summary>
    /// Hybrid search in one <c>/points/query</c> call: the dense and the sparse query as prefetches of
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
        if (vector.Length != spec.Dimension)
            throw new ArgumentException($"The query has {vector.Length} dimensions; collection '{spec.Name}' has {spec.Dimension}.", nameof(vector));
        if (!AllFinite(vector.Span)) throw new ArgumentException("The query has a NaN or infinite component.", nameof(vector));
        if (options.Limit is < 1 or > 10_000)
            throw new ArgumentOutOfRangeException(nameof(options), options.Limit, "SearchOptions.Limit must be in 1..10,000.");
        int limit = Math.Min(options.Limit, results.Length);
        if (limit == 0 || options.OnlyDocuments is { Count: 0 }) return 0;
        var filter = QdrantFilters.From(options);
        var prefetch = new List<Prefetch>
        {
            new()
            {
                Query = JsonSerializer.SerializeToElement(vector.ToArray(), QdrantJsonContext.Default.SingleArray),
                Limit = (uint)limit,
                Filter = filter,
                Params = new SearchParams { HnswEf = (uint)Math.Max(options.Ef ?? spec.Ef, limit) },
            },
        };
        if (QueryVector(text) is { } sparseVector)
        {
            prefetch.Add(new Prefetch { Query = JsonSerializer.SerializeToElement(sparseVector, QdrantJsonContext.Default.SparseVector), Using = sparse, Limit = (uint)limit, Filter = filter });
        }
        var response = await _client.QueryFusionAsync(spec.Name, new FusionQueryRequest
        {
            Prefetch = prefetch,
            Query = new RrfQuery { Rrf = new Rrf { K = (uint)rrfK } },
            Limit = (uint)limit,
            Filter = filter,
            WithPayload = false,
        }, cancellationToken).ConfigureAwait(false);
        return WriteHits(response, limit, results.Span, s => s, spec.Name);
    }

    private static int WriteHits(QueryResponse response, int limit, Span<SearchHit> span, Func<float, float> score, string collection)
    {
        int written = Math.Min(limit, response.Points.Count);
        for (int i = 0; i < written; i++)
        {
            var hit = response.Points[i];
            if (!hit.Id.IsUuid) throw new InvalidDataException($"Qdrant collection '{collection}' holds point {hit.Id}, which is not a Retro chunk id.");
            span[i] = new SearchHit(new ChunkId(hit.Id.Uuid), score(hit.Score));
        }
        return written;
    }

    /// <inheritdoc />
    public async ValueTask<long> CountAsync(CancellationToken cancellationToken = default)
        => (long)await _client.CountPointsAsync(Collection.Name, new CountRequest { Exact = true }, cancellationToken).ConfigureAwait(false);

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
                if (!found.ContainsKey(id) && seen.Add(id)) batch.Add(PointId.FromUuid(id));
            }
            if (batch.Count == 0) continue;
            var records = await _client.RetrievePointsAsync(spec.Name, new PointRequest { Ids = batch, WithPayload = true, WithVector = false }, cancellationToken).ConfigureAwait(false);
            foreach (var record in records)
            {
                if (!record.Id.IsUuid) continue;
                found[record.Id.Uuid] = ToChunk(new ChunkId(record.Id.Uuid), record.Payload, spec.Name);
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
            return await _client.IsReadyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (_ownsClient) _client.Dispose();
        return ValueTask.CompletedTask;
    }

    // ---------------------------------------------------------------- payload mapping

    internal static ChunkPayload ToPayload(Chunk chunk) => new()
    {
        DocumentId = chunk.DocumentId,
        Url = chunk.Url,
        Ordinal = chunk.Ordinal,
        Text = chunk.Text,
        Tokens = chunk.Tokens,
        ContinuationText = chunk.ContinuationText,
        ContinuationTokens = chunk.ContinuationTokens,
        Metadata = chunk.Metadata as Dictionary<string, string> ?? new Dictionary<string, string>(chunk.Metadata),
    };

    internal static Chunk ToChunk(ChunkId id, JsonElement? payload, string collection)
    {
        if (payload is not { ValueKind: JsonValueKind.Object } element)
            throw new InvalidDataException($"Point {id} of Qdrant collection '{collection}' has no payload; it was not written by Retro.");
        ChunkPayload? p;
        try
        {
            p = element.Deserialize(QdrantJsonContext.Default.ChunkPayload);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Point {id} of Qdrant collection '{collection}' has a payload that is not a Retro chunk: {e.Message}", e);
        }
        if (p is null) throw new InvalidDataException($"Point {id} of Qdrant collection '{collection}' has a null payload.");
        return new Chunk(id, p.DocumentId, p.Url, p.Ordinal, p.Text, p.Tokens, p.ContinuationText, p.ContinuationTokens, p.Metadata);
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
