using System.Text.Json;
using System.Text.Json.Serialization;

namespace Retro.VectorStore.Qdrant.Rest;

/// <summary>Source-generated JSON metadata for every body the client writes and reads (snake_case, nulls omitted).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(QdrantErrorResponse))]
[JsonSerializable(typeof(QdrantResponse<bool>))]
[JsonSerializable(typeof(QdrantResponse<JsonElement>))]
[JsonSerializable(typeof(QdrantResponse<UpdateResult>))]
[JsonSerializable(typeof(QdrantResponse<CollectionInfo>))]
[JsonSerializable(typeof(QdrantResponse<CollectionsResponse>))]
[JsonSerializable(typeof(QdrantResponse<CollectionExistence>))]
[JsonSerializable(typeof(QdrantResponse<CollectionsAliasesResponse>))]
[JsonSerializable(typeof(QdrantResponse<CountResult>))]
[JsonSerializable(typeof(QdrantResponse<ScrollResult>))]
[JsonSerializable(typeof(QdrantResponse<List<PointRecord>>))]
[JsonSerializable(typeof(QdrantResponse<QueryResponse>))]
[JsonSerializable(typeof(QdrantResponse<List<QueryResponse>>))]
[JsonSerializable(typeof(QdrantResponse<SnapshotDescription>))]
[JsonSerializable(typeof(QdrantResponse<List<SnapshotDescription>>))]
[JsonSerializable(typeof(CreateCollectionRequest))]
[JsonSerializable(typeof(Dictionary<string, VectorParams>))]
[JsonSerializable(typeof(CreateFieldIndexRequest))]
[JsonSerializable(typeof(ChangeAliasesRequest))]
[JsonSerializable(typeof(PointsList))]
[JsonSerializable(typeof(PointsSelector))]
[JsonSerializable(typeof(PointRequest))]
[JsonSerializable(typeof(CountRequest))]
[JsonSerializable(typeof(ScrollRequest))]
[JsonSerializable(typeof(QueryRequest))]
[JsonSerializable(typeof(QueryRequestBatch))]
[JsonSerializable(typeof(SparseQueryRequest))]
[JsonSerializable(typeof(FusionQueryRequest))]
[JsonSerializable(typeof(SparseVector))]
[JsonSerializable(typeof(PointId))]
[JsonSerializable(typeof(float[]))]
[JsonSerializable(typeof(ChunkPayload))]
[JsonSerializable(typeof(CheckpointPayload))]
internal sealed partial class QdrantJsonContext : JsonSerializerContext;
