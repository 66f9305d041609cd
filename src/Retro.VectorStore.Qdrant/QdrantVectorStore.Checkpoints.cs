using System.Security.Cryptography;
using System.Text;
using Qdrant.Client.Grpc;
using Retro.Core;

namespace Retro.VectorStore.Qdrant;

// Ingest checkpoints are points of a side collection "<name>__checkpoints" (1-d dummy vector, payload = the checkpoint).
// Not in the main collection: its counts, scrolls and searches must see chunks only, and a checkpoint must never come
// back as a neighbour. Same server and same write path (wait=true) as the chunks, so a checkpoint recorded after its
// chunks were acknowledged is never ahead of them.
public sealed partial class QdrantVectorStore
{
    private const string ShardKeyField = "shard_key";
    private static readonly float[] CheckpointVector = [1f];
    private volatile bool _checkpointCollectionReady;

    /// <inheritdoc />
    public async ValueTask<IngestCheckpoint?> GetAsync(string shardKey, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(shardKey);
        string name = CheckpointCollection;
        if (!await CheckpointCollectionExistsAsync(name, cancellationToken).ConfigureAwait(false)) return null;
        var ids = new[] { CheckpointId(shardKey) };
        var records = await _connection.CallAsync("Points/Get", (c, ct) => c.RetrieveAsync(name, ids, withPayload: true, withVectors: false, cancellationToken: ct),
            cancellationToken).ConfigureAwait(false);
        foreach (var record in records)
        {
            var checkpoint = ToCheckpoint(record.Id, record.Payload, name);
            if (checkpoint.ShardKey == shardKey) return checkpoint;
        }
        return null;
    }

    /// <inheritdoc />
    public async ValueTask SetAsync(IngestCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentException.ThrowIfNullOrEmpty(checkpoint.ShardKey, nameof(checkpoint));
        string name = CheckpointCollection;
        await EnsureCheckpointCollectionAsync(name, cancellationToken).ConfigureAwait(false);
        var point = new PointStruct { Id = CheckpointId(checkpoint.ShardKey), Vectors = CheckpointVector };
        point.Payload[ShardKeyField] = checkpoint.ShardKey;
        point.Payload["records"] = checkpoint.Records;
        point.Payload["byte_offset"] = checkpoint.ByteOffset;
        point.Payload["completed"] = checkpoint.Completed;
        point.Payload["documents"] = checkpoint.Documents;
        point.Payload["chunks"] = checkpoint.Chunks;
        point.Payload["rejected"] = checkpoint.Rejected;
        point.Payload["duplicates"] = checkpoint.Duplicates;
        await UpsertPointsAsync(name, [point], batchSize: 1, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<IngestCheckpoint>> ListAsync(CancellationToken cancellationToken = default)
    {
        string name = CheckpointCollection;
        var all = new List<IngestCheckpoint>();
        if (!await CheckpointCollectionExistsAsync(name, cancellationToken).ConfigureAwait(false)) return all;
        PointId? offset = null;
        do
        {
            var from = offset;
            var page = await _connection.CallAsync("Points/Scroll", (c, ct) => c.ScrollAsync(name, limit: 256, offset: from, payloadSelector: true, cancellationToken: ct),
                cancellationToken).ConfigureAwait(false);
            foreach (var record in page.Result) all.Add(ToCheckpoint(record.Id, record.Payload, name));
            offset = page.NextPageOffset;
        }
        while (offset is not null);
        all.Sort((a, b) => string.CompareOrdinal(a.ShardKey, b.ShardKey));
        return all;
    }

    /// <summary>Point id of a shard's checkpoint: a name-based UUID (SHA-256 of the key, RFC 9562 version 8 layout).</summary>
    internal static PointId CheckpointId(string shardKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(shardKey), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80); // version 8 (custom)
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new PointId { Uuid = new Guid(hash[..16], bigEndian: true).ToString() };
    }

    private async ValueTask<bool> CheckpointCollectionExistsAsync(string name, CancellationToken cancellationToken)
        => _checkpointCollectionReady || await _connection.CallAsync("Collections/CollectionExists", (c, ct) => c.CollectionExistsAsync(name, ct), cancellationToken).ConfigureAwait(false);

    private async ValueTask EnsureCheckpointCollectionAsync(string name, CancellationToken cancellationToken)
    {
        if (_checkpointCollectionReady) return;
        if (!await CheckpointCollectionExistsAsync(name, cancellationToken).ConfigureAwait(false))
        {
            var request = new CreateCollection
            {
                CollectionName = name,
                VectorsConfig = new VectorsConfig { Params = new VectorParams { Size = 1, Distance = Distance.Dot } },
                ShardNumber = 1, // a handful of points: one shard, replicated like the chunks
            };
            if (_options.ReplicationFactor is { } replicas) request.ReplicationFactor = (uint)replicas;
            if (_options.WriteConsistencyFactor is { } consistency) request.WriteConsistencyFactor = (uint)consistency;
            try
            {
                await _connection.CallAsync("Collections/Create", (c, ct) => c.CreateCollectionAsync(request, ct), cancellationToken).ConfigureAwait(false);
            }
            catch (QdrantException e) when (IsAlreadyExists(e))
            {
                // Created concurrently: fine.
            }
        }
        _checkpointCollectionReady = true;
    }

    private static IngestCheckpoint ToCheckpoint(PointId id, Google.Protobuf.Collections.MapField<string, Value> payload, string collection)
    {
        if (payload.Count == 0)
            throw new InvalidDataException($"Checkpoint point {id} of Qdrant collection '{collection}' has no payload.");
        var p = new QdrantPayload.Reader(payload, $"Checkpoint point {id} of Qdrant collection '{collection}'", "a Retro checkpoint");
        return new IngestCheckpoint(p.String(ShardKeyField), p.Integer("records"), p.Integer("byte_offset"), p.Boolean("completed"),
            p.Integer("documents"), p.Integer("chunks"), p.Integer("rejected"), p.Integer("duplicates"));
    }
}
