using Retro.VectorStore.Qdrant.Rest;

namespace Retro.VectorStore.Qdrant;

public sealed partial class QdrantClient
{
    /// <summary>Names of all collections (<c>GET /collections</c>).</summary>
    public async Task<IReadOnlyList<string>> ListCollectionsAsync(CancellationToken cancellationToken = default)
    {
        var result = await SendAsync(HttpMethod.Get, "collections", null, QdrantJsonContext.Default.QdrantResponseCollectionsResponse, cancellationToken).ConfigureAwait(false);
        var names = new List<string>();
        foreach (var collection in Required(result, "GET /collections").Collections) names.Add(collection.Name);
        return names;
    }

    /// <summary>A collection's state and configuration (<c>GET /collections/{name}</c>), or null when it does not exist.</summary>
    public Task<CollectionInfo?> GetCollectionAsync(string collection, CancellationToken cancellationToken = default)
        => SendAsync(HttpMethod.Get, $"collections/{Segment(collection)}", null, QdrantJsonContext.Default.QdrantResponseCollectionInfo, cancellationToken, notFoundIsDefault: true);

    /// <summary>Whether a collection (or alias) exists (<c>GET /collections/{name}/exists</c>).</summary>
    public async Task<bool> CollectionExistsAsync(string collection, CancellationToken cancellationToken = default)
    {
        var result = await SendAsync(HttpMethod.Get, $"collections/{Segment(collection)}/exists", null, QdrantJsonContext.Default.QdrantResponseCollectionExistence, cancellationToken).ConfigureAwait(false);
        return Required(result, "GET /collections/{name}/exists").Exists;
    }

    /// <summary>
    /// Creates a collection (<c>PUT /collections/{name}</c>). An existing collection of that name fails with
    /// <see cref="QdrantException"/> (409 Conflict).
    /// </summary>
    public async Task CreateCollectionAsync(string collection, CreateCollectionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await SendAsync(HttpMethod.Put, $"collections/{Segment(collection)}", Serialize(request, QdrantJsonContext.Default.CreateCollectionRequest),
            QdrantJsonContext.Default.QdrantResponseBoolean, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a collection and its points (<c>DELETE /collections/{name}</c>); false when it did not exist.</summary>
    public async Task<bool> DeleteCollectionAsync(string collection, CancellationToken cancellationToken = default)
        => await SendAsync(HttpMethod.Delete, $"collections/{Segment(collection)}", null, QdrantJsonContext.Default.QdrantResponseBoolean, cancellationToken, notFoundIsDefault: true).ConfigureAwait(false);

    /// <summary>Applies alias changes atomically (<c>POST /collections/aliases</c>), e.g. to swap a rebuilt collection in.</summary>
    public async Task UpdateAliasesAsync(IReadOnlyList<AliasOperation> actions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actions);
        foreach (var action in actions)
        {
            if ((action.CreateAlias is null) == (action.DeleteAlias is null))
                throw new ArgumentException("Each alias operation must set exactly one of CreateAlias or DeleteAlias.", nameof(actions));
        }
        await SendAsync(HttpMethod.Post, "collections/aliases", Serialize(new ChangeAliasesRequest { Actions = actions }, QdrantJsonContext.Default.ChangeAliasesRequest),
            QdrantJsonContext.Default.QdrantResponseBoolean, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>All aliases of the server (<c>GET /aliases</c>).</summary>
    public async Task<IReadOnlyList<AliasDescription>> ListAliasesAsync(CancellationToken cancellationToken = default)
        => Required(await SendAsync(HttpMethod.Get, "aliases", null, QdrantJsonContext.Default.QdrantResponseCollectionsAliasesResponse, cancellationToken).ConfigureAwait(false), "GET /aliases").Aliases;

    /// <summary>Aliases of one collection (<c>GET /collections/{name}/aliases</c>).</summary>
    public async Task<IReadOnlyList<AliasDescription>> ListCollectionAliasesAsync(string collection, CancellationToken cancellationToken = default)
        => Required(await SendAsync(HttpMethod.Get, $"collections/{Segment(collection)}/aliases", null, QdrantJsonContext.Default.QdrantResponseCollectionsAliasesResponse, cancellationToken).ConfigureAwait(false), "GET /collections/{name}/aliases").Aliases;

    /// <summary>
    /// Creates a payload index on <paramref name="field"/> and waits for it (<c>PUT /collections/{name}/index?wait=true</c>).
    /// Creating an index that exists with the same type is a no-op on the server.
    /// </summary>
    public async Task CreatePayloadIndexAsync(string collection, string field, PayloadSchemaType type, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(field);
        var body = new CreateFieldIndexRequest { FieldName = field, FieldSchema = type };
        await SendAsync(HttpMethod.Put, $"collections/{Segment(collection)}/index?wait=true", Serialize(body, QdrantJsonContext.Default.CreateFieldIndexRequest),
            QdrantJsonContext.Default.QdrantResponseUpdateResult, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates a snapshot of a collection on the server and waits for it (<c>POST /collections/{name}/snapshots?wait=true</c>).</summary>
    public async Task<SnapshotDescription> CreateSnapshotAsync(string collection, CancellationToken cancellationToken = default)
        => Required(await SendAsync(HttpMethod.Post, $"collections/{Segment(collection)}/snapshots?wait=true", null, QdrantJsonContext.Default.QdrantResponseSnapshotDescription, cancellationToken).ConfigureAwait(false), "POST /collections/{name}/snapshots");

    /// <summary>Snapshots of a collection (<c>GET /collections/{name}/snapshots</c>).</summary>
    public async Task<IReadOnlyList<SnapshotDescription>> ListSnapshotsAsync(string collection, CancellationToken cancellationToken = default)
        => Required(await SendAsync(HttpMethod.Get, $"collections/{Segment(collection)}/snapshots", null, QdrantJsonContext.Default.QdrantResponseListSnapshotDescription, cancellationToken).ConfigureAwait(false), "GET /collections/{name}/snapshots");

    private static T Required<T>(T? result, string operation) where T : class
        => result ?? throw new InvalidDataException($"Qdrant {operation} answered without a result.");
}
