using System.Text.Json;
using Retro.Core;
using Retro.VectorStore.Qdrant.Rest;
using Retro.VectorStore.Qdrant.Tests.Emulator;
using Retro.VectorStore.Qdrant.Tests.Support;

namespace Retro.VectorStore.Qdrant.Tests.Spec;

/// <summary>
/// Every request the client can send, with representative options, checked against Qdrant's OpenAPI document: the
/// path and method exist, query parameters are declared and typed, and the body matches the operation's schema.
/// </summary>
public sealed class RequestSpecTests
{
    /// <summary>The operations <see cref="QdrantClient"/> implements (by operationId); each must be exercised below.</summary>
    private static readonly string[] ClientOperations =
    [
        "readyz", "get_collections", "get_collection", "collection_exists", "create_collection", "delete_collection",
        "update_aliases", "get_collections_aliases", "get_collection_aliases", "create_field_index",
        "upsert_points", "delete_points", "get_points", "count_points", "scroll_points", "query_points", "query_batch_points",
        "create_snapshot", "list_snapshots",
    ];

    private static readonly Guid IdA = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");
    private static readonly Guid IdB = Guid.Parse("7c9e6679-7425-40de-944b-e07fc1f90ae7");

    private static Filter RepresentativeFilter() => new()
    {
        Must = [new FieldCondition { Key = "document_id", Match = new Match { Any = ["a", "b"] } }, new FieldCondition { Key = "metadata.\"k=v\"", Match = new Match { Value = "x" } }],
        MustNot = [new FieldCondition { Key = "document_id", Match = new Match { Value = "c" } }],
        Should = [new FieldCondition { Key = "metadata.source", Match = new Match { Except = ["spam"] } }],
    };

    [Fact]
    public async Task EveryClientOperation_SendsSpecValidRequests()
    {
        using var emulator = new QdrantEmulator { ApiKey = "k" };
        using var client = TestSupport.Client(emulator, apiKey: "k");
        var filter = RepresentativeFilter();

        (await client.IsReadyAsync()).ShouldBeTrue();
        await client.CreateCollectionAsync("plain", new CreateCollectionRequest { Vectors = new VectorParams { Size = 3, Distance = QdrantDistance.Dot } });
        await client.CreateCollectionAsync("full", new CreateCollectionRequest
        {
            Vectors = new VectorParams { Size = 3, Distance = QdrantDistance.Cosine, OnDisk = true },
            ShardNumber = 6,
            ReplicationFactor = 2,
            WriteConsistencyFactor = 1,
            HnswConfig = new HnswConfigDiff { M = 32, EfConstruct = 256, FullScanThreshold = 10_000, PayloadM = 16, OnDisk = false },
            OptimizersConfig = new OptimizersConfigDiff { IndexingThreshold = 20_000, DefaultSegmentNumber = 2, DeletedThreshold = 0.2 },
            QuantizationConfig = new QuantizationConfig { Scalar = new ScalarQuantizationConfig { Type = "int8", Quantile = 0.99f, AlwaysRam = true } },
        });
        (await client.ListCollectionsAsync()).ShouldBe(["full", "plain"]);
        (await client.GetCollectionAsync("full")).ShouldNotBeNull().Config.Params.ShardNumber.ShouldBe(6u);
        (await client.GetCollectionAsync("absent")).ShouldBeNull();
        (await client.CollectionExistsAsync("full")).ShouldBeTrue();
        await client.CreatePayloadIndexAsync("full", "document_id", PayloadSchemaType.Keyword);
        await client.CreatePayloadIndexAsync("full", "metadata.year", PayloadSchemaType.Integer);

        var payload = JsonSerializer.SerializeToElement(new Dictionary<string, object> { ["document_id"] = "a", ["metadata"] = new Dictionary<string, string> { ["k=v"] = "x", ["source"] = "web" } });
        await client.UpsertPointsAsync("full", [
            new PointStruct { Id = PointId.FromUuid(IdA), Vector = new float[] { 1, 0, 0 }, Payload = payload },
            new PointStruct { Id = PointId.FromUuid(IdB), Vector = new float[] { 0, 1, 0 } },
            new PointStruct { Id = PointId.FromNumber(42), Vector = new float[] { 0, 0, 1 } },
        ], batchSize: 2);
        (await client.RetrievePointsAsync("full", new PointRequest { Ids = [PointId.FromUuid(IdA), PointId.FromNumber(42)], WithPayload = true, WithVector = true })).Count.ShouldBe(2);
        (await client.CountPointsAsync("full", new CountRequest { Filter = filter, Exact = false })).ShouldBe(1ul);
        (await client.CountPointsAsync("full", new CountRequest())).ShouldBe(3ul);
        var page = await client.ScrollPointsAsync("full", new ScrollRequest { Limit = 2, Filter = null, WithPayload = true, WithVector = true });
        page.NextPageOffset.ShouldNotBeNull();
        (await client.ScrollPointsAsync("full", new ScrollRequest { Offset = page.NextPageOffset, Limit = 2, Filter = filter, WithPayload = false })).NextPageOffset.ShouldBeNull();

        var query = new QueryRequest
        {
            Query = new float[] { 1, 0.1f, 0 },
            Limit = 2,
            Filter = filter,
            Params = new SearchParams { HnswEf = 128, Exact = false, Quantization = new QuantizationSearchParams { Rescore = true, Oversampling = 2.0 } },
            ScoreThreshold = 0.1f,
            WithPayload = true,
            WithVector = true,
        };
        (await client.QueryPointsAsync("full", query)).Points.ShouldHaveSingleItem().Id.ShouldBe(PointId.FromUuid(IdA));
        (await client.QueryPointsAsync("full", new QueryRequest { Query = new float[] { 0, 0, 1 }, Limit = 1 })).Points.ShouldHaveSingleItem().Id.ShouldBe(PointId.FromNumber(42));
        (await client.QueryBatchAsync("full", [query, query with { Filter = null, ScoreThreshold = null }])).Count.ShouldBe(2);

        await client.DeletePointsAsync("full", new PointsSelector { Points = [PointId.FromNumber(42)] });
        await client.DeletePointsAsync("full", new PointsSelector { Filter = filter });
        (await client.CountPointsAsync("full", new CountRequest())).ShouldBe(1ul);

        await client.UpdateAliasesAsync([AliasOperation.Create("live", "full"), AliasOperation.Create("old", "plain")]);
        await client.UpdateAliasesAsync([AliasOperation.Delete("old"), AliasOperation.Delete("live"), AliasOperation.Create("live", "plain")]);
        (await client.ListAliasesAsync()).ShouldHaveSingleItem().CollectionName.ShouldBe("plain");
        (await client.ListCollectionAliasesAsync("plain")).ShouldHaveSingleItem().AliasName.ShouldBe("live");

        var snapshot = await client.CreateSnapshotAsync("full");
        (await client.ListSnapshotsAsync("full")).ShouldHaveSingleItem().Name.ShouldBe(snapshot.Name);
        (await client.DeleteCollectionAsync("plain")).ShouldBeTrue();
        (await client.DeleteCollectionAsync("plain")).ShouldBeFalse();

        emulator.SpecViolations.ShouldBeEmpty();
        var spec = OpenApiSpec.Instance;
        var exercised = new HashSet<string>();
        foreach (var request in emulator.Requests)
        {
            var uri = new Uri(new Uri(TestSupport.Url), request.PathAndQuery);
            byte[]? body = request.Body is null ? null : System.Text.Encoding.UTF8.GetBytes(request.Body);
            spec.ValidateRequest(request.Method, uri, body is null ? null : "application/json", body).ShouldBeEmpty($"{request.Method} {request.PathAndQuery}");
            exercised.Add(spec.Find(request.Method, uri.AbsolutePath)!.Id);
            request.ApiKey.ShouldBe("k");
        }
        exercised.Order().ShouldBe(ClientOperations.Order());
    }

    [Fact]
    public async Task StoreOperations_SendSpecValidRequests_WithWaitOnEveryWrite()
    {
        using var emulator = new QdrantEmulator();
        var options = TestSupport.FastRetries() with { UpsertBatchSize = 64, ShardNumber = 3, ReplicationFactor = 2, WriteConsistencyFactor = 2 };
        await using var store = await TestSupport.StoreAsync(emulator, new CollectionSpec { Name = "retro", Dimension = 4, Quantization = QuantizationKind.Int8, M = 24, EfConstruction = 300 }, options);
        var random = new Random(5);
        var points = Enumerable.Range(0, 150).Select(i => new VectorPoint(
            new Chunk(ChunkId.From($"doc-{i % 7}", i), $"doc-{i % 7}", "", i, "t", [1, 2], "", [], new Dictionary<string, string> { ["weird key.x"] = "v" }),
            new float[] { (float)random.NextDouble(), 1, 2, 3 })).ToList();
        await store.UpsertAsync(points);
        var hits = new SearchHit[5];
        await store.SearchAsync(new float[] { 1, 1, 1, 1 }, new SearchOptions
        {
            Limit = 5,
            Ef = 100,
            OnlyDocuments = ["doc-1", "doc-2", "doc-1"],
            ExcludeDocument = "doc-2",
            MetadataEquals = new Dictionary<string, string> { ["weird key.x"] = "v" },
        }, hits);
        await store.GetChunksAsync([points[0].Id, points[1].Id]);
        await store.DeleteDocumentAsync("doc-3");
        await store.SetAsync(new IngestCheckpoint("shard-0", 10, 1000, false, 1, 10, 0, 0));
        await store.GetAsync("shard-0");
        await store.ListAsync();

        emulator.SpecViolations.ShouldBeEmpty();
        var writes = emulator.Requests.Where(r => r.Method is "PUT" or "POST" && (r.PathAndQuery.Contains("/points?", StringComparison.Ordinal) || r.PathAndQuery.Contains("/delete", StringComparison.Ordinal) || r.PathAndQuery.Contains("/index", StringComparison.Ordinal))).ToList();
        writes.ShouldNotBeEmpty();
        writes.ShouldAllBe(r => r.PathAndQuery.EndsWith("?wait=true", StringComparison.Ordinal));
        emulator.Requests.Count(r => r.Method == "PUT" && r.PathAndQuery == "/collections/retro/points?wait=true").ShouldBe(3, "150 points in batches of 64");
        var create = JsonDocument.Parse(emulator.Requests.First(r => r.Method == "PUT" && r.PathAndQuery == "/collections/retro").Body!).RootElement;
        create.GetProperty("shard_number").GetInt32().ShouldBe(3);
        create.GetProperty("replication_factor").GetInt32().ShouldBe(2);
        create.GetProperty("write_consistency_factor").GetInt32().ShouldBe(2);
        create.GetProperty("hnsw_config").GetProperty("m").GetInt32().ShouldBe(24);
        create.GetProperty("hnsw_config").GetProperty("ef_construct").GetInt32().ShouldBe(300);
        create.GetProperty("quantization_config").GetProperty("scalar").GetProperty("type").GetString().ShouldBe("int8");
        var search = JsonDocument.Parse(emulator.Requests.Single(r => r.PathAndQuery == "/collections/retro/points/query").Body!).RootElement;
        search.GetProperty("params").GetProperty("hnsw_ef").GetInt32().ShouldBe(100);
        search.GetProperty("filter").GetRawText().ShouldBe("""{"must":[{"key":"document_id","match":{"any":["doc-1","doc-2"]}},{"key":"metadata.\u0022weird key.x\u0022","match":{"value":"v"}}],"must_not":[{"key":"document_id","match":{"value":"doc-2"}}]}""");
    }
}
