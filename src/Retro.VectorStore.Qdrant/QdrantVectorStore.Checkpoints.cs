using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Retro.Core;
using Retro.VectorStore.Qdrant.Rest;

namespace Retro.VectorStore.Qdrant;

// Ingest checkpoints are points of a side collection "<name>__checkpoints" (1-d dummy vector, payload = the checkpoint).
// Not in the main collection: its counts, scrolls and searches must see chunks only, and a checkpoint must never come
// back as a neighbour. Same server and same write path (wait=true) as the chunks, so a checkpoint recorded after its
// chunks were acknowledged is never ahead of them.
public sealed partial class QdrantVectorStore
{
    private static readonly float[] CheckpointVector = [1f];
    private volatile bool _checkpointCollectionReady;

    /// <inheritdoc />
    public async ValueTask<IngestCheckpoint?> GetAsync(string shardKey, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(shardKey);
        string name = CheckpointCollection;
        if (!await CheckpointCollectionExistsAsync(name, cancellationToken).ConfigureAwait(false)) return null;
        var records = await _client.RetrievePointsAsync(name, new PointRequest { Ids = [CheckpointId(shardKey)], WithPayload = true }, cancellationToken).ConfigureAwait(false);
        foreach (var record in records)
        {
            var checkpoint = ToCheckpoint(record, name);
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
        var payload = new CheckpointPayload
        {
            ShardKey = checkpoint.ShardKey,
            Records = checkpoint.Records,
            ByteOffset = checkpoint.ByteOffset,
            Completed = checkpoint.Completed,
            Documents = checkpoint.Documents,
            Chunks = checkpoint.Chunks,
            Rejected = checkpoint.Rejected,
            Duplicates = checkpoint.Duplicates,
        };
        var point = new PointStruct
        {
            Id = CheckpointId(checkpoint.ShardKey),
            Vector = CheckpointVector,
            Payload = JsonSerializer.SerializeToElement(payload, QdrantJsonContext.Default.CheckpointPayload),
        };
        await _client.UpsertPointsAsync(name, [point], cancellationToken: cancellationToken).ConfigureAwait(false);
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
            var page = await _client.ScrollPointsAsync(name, new ScrollRequest { Offset = offset, Limit = 256, WithPayload = true }, cancellationToken).ConfigureAwait(false);
            foreach (var record in page.Points) all.Add(ToCheckpoint(record, name));
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
        return PointId.FromUuid(new Guid(hash[..16], bigEndian: true));
    }

    private async ValueTask<bool> CheckpointCollectionExistsAsync(string name, CancellationToken cancellationToken)
        => _checkpointCollectionReady || await _client.CollectionExistsAsync(name, cancellationToken).ConfigureAwait(false);

    private async ValueTask EnsureCheckpointCollectionAsync(string name, CancellationToken cancellationToken)
    {
        if (_checkpointCollectionReady) return;
        if (!await _client.CollectionExistsAsync(name, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await _client.CreateCollectionAsync(name, new CreateCollectionRequest
                {
                    Vectors = new VectorParams { Size = 1, Distance = QdrantDistance.Dot },
                    ReplicationFactor = (uint?)_options.ReplicationFactor,
                    WriteConsistencyFactor = (uint?)_options.WriteConsistencyFactor,
                    ShardNumber = 1, // a handful of points: one shard, replicated like the chunks
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (QdrantException e) when (e.StatusCode == HttpStatusCode.Conflict)
            {
                // Created concurrently: fine.
            }
        }
        _checkpointCollectionReady = true;
    }

    private static IngestCheckpoint ToCheckpoint(PointRecord record, string collection)
    {
        if (record.Payload is not { ValueKind: JsonValueKind.Object } element)
            throw new InvalidDataException($"Checkpoint point {record.Id} of Qdrant collection '{collection}' has no payload.");
        CheckpointPayload p;
        try
        {
            p = element.Deserialize(QdrantJsonContext.Default.CheckpointPayload)
                ?? throw new InvalidDataException($"Checkpoint point {record.Id} of Qdrant collection '{collection}' has a null payload.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Checkpoint point {record.Id} of Qdrant collection '{collection}' is not a Retro checkpoint: {e.Message}", e);
        }
        return new IngestCheckpoint(p.ShardKey, p.Records, p.ByteOffset, p.Completed, p.Documents, p.Chunks, p.Rejected, p.Duplicates);
    }
}
