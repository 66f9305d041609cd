using System.Collections.Concurrent;
using Grpc.Core;
using Qdrant.Client.Grpc;
using Retro.Core;
using Retro.Core.Text;
using Retro.VectorStore.Qdrant.StandIn;
using Retro.VectorStore.Qdrant.Tests.Support;
using Retro.VectorStore.Tests.Contract;

namespace Retro.VectorStore.Qdrant.Tests.Contract;

/// <summary>
/// What the Qdrant store adds to the shared contract, run against the stand-in and against a live server alike: titles
/// (payload round trip, BM25F title field), the collection it creates, the recorded BM25 analysis, ingest checkpoints,
/// and Qdrant's own errors surfacing through the connection.
/// </summary>
public abstract class QdrantStoreContractTests : IAsyncLifetime
{
    private readonly List<QdrantVectorStore> _stores = [];

    /// <summary>A store (its collection not yet ensured).</summary>
    protected abstract QdrantVectorStore NewStore(QdrantOptions? options = null);

    /// <summary>The collection name a test's <paramref name="name"/> becomes (unique on a shared live server).</summary>
    protected virtual string CollectionName(string name) => name;

    /// <summary>Non-null to skip every test with this reason (no server).</summary>
    protected abstract string? SkipReason { get; }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores) await store.DisposeAsync();
    }

    private async Task<QdrantVectorStore> OpenAsync(CollectionSpec spec, QdrantOptions? options = null)
    {
        if (SkipReason is { } reason) throw new ContractSkipException(reason);
        var store = NewStore(options);
        _stores.Add(store);
        await store.EnsureCollectionAsync(spec with { Name = CollectionName(spec.Name) });
        return store;
    }

    private static CollectionSpec Text(string name) => new() { Name = name, Dimension = 2, Bm25 = new Bm25Options { AverageLength = 3f } };

    private static VectorPoint Point(string document, string text, string title = "", float x = 1, float y = 0)
        => new(TestSupport.Chunk(document, 0, text, title), new float[] { x, y });

    [ContractFact]
    public async Task Titles_RoundTrip_AndAChunkWithoutOneReadsEmpty()
    {
        var store = await OpenAsync(Text("titles"));
        var points = new[] { Point("a", "first", "Ångström — 東京 🚀"), Point("b", "second", ""), Point("c", "third", "compiler") };
        await store.UpsertAsync(points);

        var chunks = await store.GetChunksAsync([.. points.Select(p => p.Id)]);

        chunks.Select(c => c!.Title).ShouldBe(["Ångström — 東京 🚀", "", "compiler"]);
        chunks.Select(c => c!.Text).ShouldBe(["first", "second", "third"]);
    }

    [ContractFact]
    public async Task A_point_written_without_a_title_reads_back_with_an_empty_one()
    {
        var store = await OpenAsync(Text("untitled"));
        var id = ChunkId.From("old", 0);
        var point = new PointStruct { Id = new PointId { Uuid = id.ToString() }, Vectors = new float[] { 1, 0 } };
        point.Payload["document_id"] = "old";
        point.Payload["url"] = "";
        point.Payload["ordinal"] = 0;
        point.Payload["text"] = "written before titles";
        point.Payload["tokens"] = new Value { ListValue = new ListValue { Values = { 1L, 2L } } };
        point.Payload["continuation_text"] = "";
        point.Payload["continuation_tokens"] = new Value { ListValue = new ListValue() };
        point.Payload["metadata"] = new Value { StructValue = new Struct() };
        await store.Client.UpsertAsync(store.Collection.Name, [point]);

        var chunk = (await store.GetChunksAsync([id]))[0].ShouldNotBeNull();

        chunk.Title.ShouldBe("");
        chunk.Text.ShouldBe("written before titles");
        chunk.Tokens.ShouldBe([1, 2]);
    }

    [ContractFact]
    public async Task A_query_matching_only_a_title_finds_the_chunk()
    {
        var store = await OpenAsync(Text("title_match"));
        await store.UpsertAsync([Point("entry", "a large grey animal of the savanna", "Elephant"), Point("other", "a small animal that climbs trees", "Squirrel", 0, 1)]);
        var hits = new SearchHit[5];

        int n = await store.SearchTextAsync("elephant", new SearchOptions { Limit = 5 }, hits);

        n.ShouldBe(1);
        hits[0].Id.ShouldBe(ChunkId.From("entry", 0));
        (await store.HybridSearchAsync(new float[] { 0, 1 }, "elephant", new SearchOptions { Limit = 2 }, 60, hits)).ShouldBe(2);
        hits[0].Id.ShouldBe(ChunkId.From("entry", 0), "found by text and by rank fusion ahead of the dense-only hit");
    }

    [ContractFact]
    public async Task A_title_term_counts_title_weight_times()
    {
        // Same length: |title| × 3 + |text| = 1 × 3 + 2 = 5 for both. "compiler" once in the title (tf 3) beats twice in the text.
        var store = await OpenAsync(Text("title_weight") with { Bm25 = new Bm25Options { AverageLength = 5f, TitleWeight = 3 } });
        await store.UpsertAsync([Point("titled", "yacc manual", "compiler"), Point("texted", "compiler compiler", "bison", 0, 1), Point("none", "unrelated words", "lex")]);
        var hits = new SearchHit[5];

        (await store.SearchTextAsync("compiler", new SearchOptions { Limit = 5 }, hits)).ShouldBe(2);

        hits[0].Id.ShouldBe(ChunkId.From("titled", 0));
        hits[1].Id.ShouldBe(ChunkId.From("texted", 0));
        var bm25 = store.Collection.Bm25;
        float idf = (float)Math.Log((3 - 2 + 0.5) / (2 + 0.5) + 1);
        hits[0].Score.ShouldBe(idf * Bm25.TermWeight(3, 5, bm25.AverageLength, bm25.K1, bm25.B), 1e-4f);
        hits[1].Score.ShouldBe(idf * Bm25.TermWeight(2, 5, bm25.AverageLength, bm25.K1, bm25.B), 1e-4f);
    }

    [ContractFact]
    public async Task The_created_collection_has_the_products_indexes_and_options()
    {
        var store = await OpenAsync(new CollectionSpec { Name = "created", Dimension = 3, Metric = DistanceMetric.Dot, M = 12, EfConstruction = 80, Quantization = QuantizationKind.Int8 });

        var info = await store.Client.GetCollectionInfoAsync(store.Collection.Name);

        info.PayloadSchema[QdrantFilters.DocumentIdField].DataType.ShouldBe(PayloadSchemaType.Keyword);
        info.Config.Params.VectorsConfig.Params.Size.ShouldBe(3ul);
        info.Config.Params.VectorsConfig.Params.Distance.ShouldBe(Distance.Dot);
        info.Config.Params.SparseVectorsConfig.Map["bm25"].Modifier.ShouldBe(Modifier.Idf);
        info.Config.HnswConfig.M.ShouldBe(12ul);
        info.Config.HnswConfig.EfConstruct.ShouldBe(80ul);
        info.Config.QuantizationConfig.Scalar.Type.ShouldBe(QuantizationType.Int8);
        info.Config.Metadata[QdrantVectorStore.AnalysisMetadataKey].ShouldBe(QdrantVectorStore.AnalysisValue(store.Collection.Bm25));
    }

    [ContractFact]
    public async Task Reopening_with_another_bm25_analysis_is_a_conflict()
    {
        var store = await OpenAsync(Text("analysis"));
        var spec = store.Collection;
        var other = NewStore();
        _stores.Add(other);

        var e = await Should.ThrowAsync<InvalidOperationException>(async () => await other.EnsureCollectionAsync(spec with { Bm25 = spec.Bm25 with { TitleWeight = 1 } }));
        e.Message.ShouldContain("title_weight");
        await other.EnsureCollectionAsync(spec with { Bm25 = spec.Bm25 with { K1 = 0.9f, AverageLength = 64 } }); // scoring may change, analysis not
    }

    [ContractFact]
    public async Task Checkpoints_RoundTrip_InASideCollection_AndListPagesThroughAll()
    {
        var store = await OpenAsync(Text("corpus"));
        (await store.GetAsync("shard-a")).ShouldBeNull();
        (await store.ListAsync()).ShouldBeEmpty();
        (await store.Client.CollectionExistsAsync(store.Collection.Name + "__checkpoints")).ShouldBeFalse("reading checkpoints creates nothing");

        var a = new IngestCheckpoint("/data/shard-a.jsonl.gz|1234|2026-11-22T00:00:00Z", 100, 65_536, false, 90, 400, 7, 3);
        await store.SetAsync(a);
        await store.SetAsync(a with { Records = 200, ByteOffset = 131_072, Completed = true });
        for (int i = 0; i < 300; i++) await store.SetAsync(new IngestCheckpoint($"shard-{i:D3}", i, i, false, 0, 0, 0, 0));

        (await store.GetAsync(a.ShardKey)).ShouldBe(a with { Records = 200, ByteOffset = 131_072, Completed = true });
        (await store.GetAsync("/data/unknown")).ShouldBeNull();
        var all = await store.ListAsync();
        all.Count.ShouldBe(301);
        all[0].ShardKey.ShouldBe(a.ShardKey);
        all[^1].ShardKey.ShouldBe("shard-299");
        (await store.CountAsync()).ShouldBe(0, "checkpoints are not chunks");
    }

    [ContractFact]
    public async Task Qdrants_own_errors_surface_with_its_status_and_text()
    {
        var store = await OpenAsync(new CollectionSpec { Name = "errors", Dimension = 4 });

        var e = await Should.ThrowAsync<QdrantException>(() => store.Connection.CallAsync("Points/Query",
            (c, ct) => c.QueryAsync(store.Collection.Name, query: new float[3], cancellationToken: ct)));

        e.StatusCode.ShouldBe(StatusCode.InvalidArgument);
        e.Error.ShouldContain("dimension", Case.Insensitive);
        var missing = await Should.ThrowAsync<QdrantException>(() => store.Connection.CallAsync("Points/Count", (c, ct) => c.CountAsync("no_such_collection_" + Guid.NewGuid().ToString("N"), cancellationToken: ct)));
        missing.StatusCode.ShouldBe(StatusCode.NotFound);
        (await store.IsHealthyAsync()).ShouldBeTrue();
    }

    [ContractFact]
    public async Task A_point_without_a_retro_payload_is_reported_clearly()
    {
        var store = await OpenAsync(new CollectionSpec { Name = "foreign", Dimension = 2 });
        var id = ChunkId.From("foreign", 0);
        var point = new PointStruct { Id = new PointId { Uuid = id.ToString() }, Vectors = new float[] { 1, 0 } };
        point.Payload["city"] = 1;
        await store.Client.UpsertAsync(store.Collection.Name, [point]);

        var e = await Should.ThrowAsync<InvalidDataException>(async () => await store.GetChunksAsync([id]));

        e.Message.ShouldContain(id.ToString());
        e.Message.ShouldContain("not a Retro chunk");
    }
}

/// <summary>The Qdrant store contract over the in-process stand-in.</summary>
public sealed class StandInQdrantStoreContractTests : QdrantStoreContractTests, IDisposable
{
    private readonly QdrantStandIn _standIn = QdrantStandIn.StartAsync(apiKey: "store-contract").GetAwaiter().GetResult();

    protected override string? SkipReason => null;

    protected override QdrantVectorStore NewStore(QdrantOptions? options = null)
    {
        options ??= TestSupport.FastRetries();
        return new QdrantVectorStore(TestSupport.Connect(_standIn, options), options, ownsConnection: true);
    }

    public void Dispose() => _standIn.DisposeAsync().AsTask().GetAwaiter().GetResult();
}

/// <summary>The Qdrant store contract against a live server; skipped with the reason when there is none.</summary>
[Collection(LiveQdrantCollection.Name)]
public sealed class LiveQdrantStoreContractTests(LiveQdrantFixture live) : QdrantStoreContractTests, IDisposable
{
    private readonly ConcurrentBag<string> _collections = [];
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..12];

    protected override string? SkipReason => live.SkipReason;

    protected override QdrantVectorStore NewStore(QdrantOptions? options = null) => QdrantVectorStore.Create(live.Store(), options ?? live.Options());

    protected override string CollectionName(string name)
    {
        string unique = $"retro_{name}_{_suffix}";
        _collections.Add(unique);
        return unique;
    }

    public void Dispose() => LiveCleanup.DeleteCollections(live, _collections);
}
