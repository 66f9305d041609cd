using Retro.Core;
using Retro.VectorStore.Qdrant.Rest;

namespace Retro.VectorStore.Qdrant;

public sealed partial class QdrantClient
{
    /// <summary>
    /// Inserts or replaces points, <paramref name="batchSize"/> per request, each acknowledged only once applied
    /// (<c>PUT /collections/{name}/points?wait=true</c>). A batch whose body would exceed the server's request size limit
    /// (<see cref="QdrantOptions.MaxRequestMegabytes"/>) is split in halves. Batches are sent in order; a failure leaves
    /// the earlier ones written.
    /// </summary>
    public async Task UpsertPointsAsync(string collection, IReadOnlyList<PointStruct> points, int batchSize = 128, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        string path = $"collections/{Segment(collection)}/points?wait=true";
        for (int start = 0; start < points.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, points.Count - start);
            var batch = new PointStruct[count];
            for (int i = 0; i < count; i++) batch[i] = points[start + i] ?? throw new ArgumentException($"Point {start + i} is null.", nameof(points));
            await UpsertBatchAsync(path, batch, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task UpsertBatchAsync(string path, ArraySegment<PointStruct> batch, CancellationToken cancellationToken)
    {
        byte[] body = Serialize(new PointsList { Points = batch }, QdrantJsonContext.Default.PointsList);
        if (body.LongLength > _maxRequestBytes && batch.Count > 1)
        {
            int half = batch.Count / 2;
            await UpsertBatchAsync(path, batch[..half], cancellationToken).ConfigureAwait(false);
            await UpsertBatchAsync(path, batch[half..], cancellationToken).ConfigureAwait(false);
            return;
        }
        var result = await SendAsync(HttpMethod.Put, path, body, QdrantJsonContext.Default.QdrantResponseUpdateResult, cancellationToken).ConfigureAwait(false);
        EnsureCompleted(result, "PUT /collections/{name}/points");
    }

    /// <summary>Deletes points by ids or by filter and waits (<c>POST /collections/{name}/points/delete?wait=true</c>).</summary>
    public async Task DeletePointsAsync(string collection, PointsSelector selector, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selector);
        if ((selector.Points is null) == (selector.Filter is null))
            throw new ArgumentException("A points selector sets exactly one of Points or Filter.", nameof(selector));
        var result = await SendAsync(HttpMethod.Post, $"collections/{Segment(collection)}/points/delete?wait=true", Serialize(selector, QdrantJsonContext.Default.PointsSelector),
            QdrantJsonContext.Default.QdrantResponseUpdateResult, cancellationToken).ConfigureAwait(false);
        EnsureCompleted(result, "POST /collections/{name}/points/delete");
    }

    /// <summary>Fetches points by id (<c>POST /collections/{name}/points</c>); ids that do not exist are left out, order is not guaranteed.</summary>
    public async Task<IReadOnlyList<PointRecord>> RetrievePointsAsync(string collection, PointRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Required(await SendAsync(HttpMethod.Post, $"collections/{Segment(collection)}/points", Serialize(request, QdrantJsonContext.Default.PointRequest),
            QdrantJsonContext.Default.QdrantResponseListPointRecord, cancellationToken).ConfigureAwait(false), "POST /collections/{name}/points");
    }

    /// <summary>Counts points, optionally filtered (<c>POST /collections/{name}/points/count</c>).</summary>
    public async Task<ulong> CountPointsAsync(string collection, CountRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Required(await SendAsync(HttpMethod.Post, $"collections/{Segment(collection)}/points/count", Serialize(request, QdrantJsonContext.Default.CountRequest),
            QdrantJsonContext.Default.QdrantResponseCountResult, cancellationToken).ConfigureAwait(false), "POST /collections/{name}/points/count").Count;
    }

    /// <summary>One page of points in id order (<c>POST /collections/{name}/points/scroll</c>).</summary>
    public async Task<ScrollResult> ScrollPointsAsync(string collection, ScrollRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Required(await SendAsync(HttpMethod.Post, $"collections/{Segment(collection)}/points/scroll", Serialize(request, QdrantJsonContext.Default.ScrollRequest),
            QdrantJsonContext.Default.QdrantResponseScrollResult, cancellationToken).ConfigureAwait(false), "POST /collections/{name}/points/scroll");
    }

    /// <summary>Nearest points to a vector (<c>POST /collections/{name}/points/query</c>), best first.</summary>
    public async Task<QueryResponse> QueryPointsAsync(string collection, QueryRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Required(await SendAsync(HttpMethod.Post, $"collections/{Segment(collection)}/points/query", Serialize(request, QdrantJsonContext.Default.QueryRequest),
            QdrantJsonContext.Default.QdrantResponseQueryResponse, cancellationToken).ConfigureAwait(false), "POST /collections/{name}/points/query");
    }

    /// <summary>Nearest points to a sparse vector of a named sparse vector (<c>POST /collections/{name}/points/query</c>), best first.</summary>
    public async Task<QueryResponse> QuerySparseAsync(string collection, SparseQueryRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Query.Indices.Count != request.Query.Values.Count)
            throw new ArgumentException("A sparse vector has as many values as indices.", nameof(request));
        return Required(await SendAsync(HttpMethod.Post, $"collections/{Segment(collection)}/points/query", Serialize(request, QdrantJsonContext.Default.SparseQueryRequest),
            QdrantJsonContext.Default.QdrantResponseQueryResponse, cancellationToken).ConfigureAwait(false), "POST /collections/{name}/points/query");
    }

    /// <summary>Prefetches fused by RRF in one request (<c>POST /collections/{name}/points/query</c>), best first.</summary>
    public async Task<QueryResponse> QueryFusionAsync(string collection, FusionQueryRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Prefetch.Count == 0) throw new ArgumentException("A fusion query needs at least one prefetch.", nameof(request));
        return Required(await SendAsync(HttpMethod.Post, $"collections/{Segment(collection)}/points/query", Serialize(request, QdrantJsonContext.Default.FusionQueryRequest),
            QdrantJsonContext.Default.QdrantResponseQueryResponse, cancellationToken).ConfigureAwait(false), "POST /collections/{name}/points/query");
    }

    /// <summary>Several queries in one request (<c>POST /collections/{name}/points/query/batch</c>); results in request order.</summary>
    public async Task<IReadOnlyList<QueryResponse>> QueryBatchAsync(string collection, IReadOnlyList<QueryRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var result = Required(await SendAsync(HttpMethod.Post, $"collections/{Segment(collection)}/points/query/batch",
            Serialize(new QueryRequestBatch { Searches = requests }, QdrantJsonContext.Default.QueryRequestBatch),
            QdrantJsonContext.Default.QdrantResponseListQueryResponse, cancellationToken).ConfigureAwait(false), "POST /collections/{name}/points/query/batch");
        if (result.Count != requests.Count)
            throw new InvalidDataException($"Qdrant answered {result.Count} results to a batch of {requests.Count} queries.");
        return result;
    }

    /// <summary>With <c>wait=true</c> Qdrant answers "completed"; "wait_timeout" means the write is queued but not yet applied.</summary>
    private static void EnsureCompleted(UpdateResult? result, string operation)
    {
        var update = Required(result, operation);
        if (update.Status != "completed")
            throw new VectorStoreUnavailableException($"Qdrant {operation} was not applied in time (status '{update.Status}'); retry the write.");
    }
}
