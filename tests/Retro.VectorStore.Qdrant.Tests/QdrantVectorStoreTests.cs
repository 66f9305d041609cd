using Qdrant.Client.Grpc;
using Retro.Core;
using Retro.Core.Text;
using Retro.VectorStore.Qdrant.StandIn;
using Retro.VectorStore.Qdrant.Tests.Support;
using Distance = Qdrant.Client.Grpc.Distance;

namespace Retro.VectorStore.Qdrant.Tests;

/// <summary>Behaviour of <see cref="QdrantVectorStore"/> beyond the shared contracts, over the gRPC stand-in.</summary>
public sealed class QdrantVectorStoreTests : IAsyncLifetime
{
    private QdrantStandIn _standIn = null!;

    public async Task InitializeAsync() => _standIn = await QdrantStandIn.StartAsync();

    public async Task DisposeAsync() => await _standIn.DisposeAsync();

    private int Calls(string method) => _standIn.Calls.Count(c => c.Method == "/qdrant." + method);

    [Fact]
    public async Task Collection_BeforeEnsure_Throws()
    {
        await using var store = new QdrantVectorStore(TestSupport.Connect(_standIn), ownsConnection: true);
        Should.Throw<InvalidOperationException>(() => store.Collection).Message.ShouldContain("EnsureCollectionAsync");
        await Should.ThrowAsync<InvalidOperationException>(async () => await store.CountAsync());
    }

    [Fact]
    public async Task EnsureCollection_InvalidSpecOrReservedName_ThrowsArgumentException_AndCreatesNothing()
    {
        await using var store = new QdrantVectorStore(TestSupport.Connect(_standIn), ownsConnection: true);
        await Should.ThrowAsync<ArgumentException>(async () => await store.EnsureCollectionAsync(new CollectionSpec { Name = "bad name!", Dimension = 3 }));
        await Should.ThrowAsync<ArgumentException>(async () => await store.EnsureCollectionAsync(new CollectionSpec { Name = "x", Dimension = 0 }));
        await Should.ThrowAsync<ArgumentException>(async () => await store.EnsureCollectionAsync(new CollectionSpec { Name = "x__checkpoints", Dimension = 3 }));
        _standIn.CollectionNames.ShouldBeEmpty();
        _standIn.Calls.ShouldBeEmpty();
    }

    [Fact]
    public async Task EnsureCollection_ForeignCollection_IsAConflict_AndOneWithoutRecordedAnalysisIsAccepted()
    {
        using var connection = TestSupport.Connect(_standIn);
        await connection.Client.CreateCollectionAsync("foreign", new VectorParams { Size = 3, Distance = Distance.Manhattan });
        await connection.Client.CreateCollectionAsync("older", new VectorParams { Size = 3, Distance = Distance.Cosine });
        await using var store = new QdrantVectorStore(TestSupport.Connect(_standIn), ownsConnection: true);

        var e = await Should.ThrowAsync<InvalidOperationException>(async () => await store.EnsureCollectionAsync(new CollectionSpec { Name = "foreign", Dimension = 3 }));
        e.Message.ShouldContain("Manhattan");
        await store.EnsureCollectionAsync(new CollectionSpec { Name = "older", Dimension = 3, Bm25 = new Bm25Options { TitleWeight = 5 } });
    }

    [Fact]
    public async Task Euclid_ScoreIsNegativeSquaredDistance()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, new CollectionSpec { Name = "l2", Dimension = 2, Metric = DistanceMetric.Euclid });
        await store.UpsertAsync([new VectorPoint(TestSupport.Chunk("d", 0), new float[] { 3, 4 }), new VectorPoint(TestSupport.Chunk("d", 1), new float[] { 1, 1 })]);
        var hits = new SearchHit[2];

        (await store.SearchAsync(new float[] { 0, 0 }, new SearchOptions { Limit = 2 }, hits)).ShouldBe(2);

        hits[0].Id.ShouldBe(ChunkId.From("d", 1));
        hits[0].Score.ShouldBe(-2f, 1e-5f);
        hits[1].Score.ShouldBe(-25f, 1e-4f);
        QdrantVectorStore.ToSearchScore(DistanceMetric.Euclid, 5f).ShouldBe(-25f);
        QdrantVectorStore.ToSearchScore(DistanceMetric.Dot, -5f).ShouldBe(-5f);
    }

    [Fact]
    public async Task Search_EmptyOnlyDocumentsOrBuffer_ReturnsNothingWithoutAsking_AndBadInputThrows()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, new CollectionSpec { Name = "e", Dimension = 2 });
        await store.UpsertAsync([new VectorPoint(TestSupport.Chunk("d", 0), new float[] { 1, 0 })]);
        int before = _standIn.Calls.Count;
        (await store.SearchAsync(new float[] { 1, 0 }, new SearchOptions { OnlyDocuments = new HashSet<string>() }, new SearchHit[4])).ShouldBe(0);
        (await store.SearchAsync(new float[] { 1, 0 }, new SearchOptions(), Memory<SearchHit>.Empty)).ShouldBe(0);
        await Should.ThrowAsync<ArgumentException>(async () => await store.SearchAsync(new float[] { float.NaN, 0 }, new SearchOptions(), new SearchHit[4]));
        await Should.ThrowAsync<ArgumentOutOfRangeException>(async () => await store.SearchAsync(new float[] { 1, 0 }, new SearchOptions { Limit = 0 }, new SearchHit[4]));
        _standIn.Calls.Count.ShouldBe(before);
    }

    [Theory]
    [InlineData("source", "metadata.source")]
    [InlineData("snake_case-and-digits9", "metadata.snake_case-and-digits9")]
    [InlineData("k=v", "metadata.\"k=v\"")]
    [InlineData("a.b", "metadata.\"a.b\"")]
    [InlineData("with space", "metadata.\"with space\"")]
    public void MetadataPath_QuotesWhatIsNotARawKey(string key, string path) => QdrantFilters.MetadataPath(key).ShouldBe(path);

    [Theory]
    [InlineData("say \"hi\"")]
    [InlineData("back\\slash")]
    [InlineData("")]
    public void MetadataPath_UnaddressableKey_Throws(string key) => Should.Throw<ArgumentException>(() => QdrantFilters.MetadataPath(key));

    [Fact]
    public async Task MetadataFilter_OnDottedAndSymbolKeys_MatchesExactly()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, new CollectionSpec { Name = "meta", Dimension = 2 });
        await store.UpsertAsync([
            new VectorPoint(TestSupport.Chunk("a", 0, metadata: new() { ["a.b"] = "1", ["k=v"] = "x" }), new float[] { 1, 0 }),
            new VectorPoint(TestSupport.Chunk("b", 0, metadata: new() { ["a.b"] = "2", ["k=v"] = "x" }), new float[] { 1, 0.1f }),
            new VectorPoint(TestSupport.Chunk("c", 0, metadata: new() { ["a"] = "{\"b\":\"1\"}" }), new float[] { 1, 0.2f }),
        ]);
        var hits = new SearchHit[5];
        int n = await store.SearchAsync(new float[] { 1, 0 }, new SearchOptions { MetadataEquals = new Dictionary<string, string> { ["a.b"] = "1", ["k=v"] = "x" } }, hits);
        n.ShouldBe(1);
        hits[0].Id.ShouldBe(ChunkId.From("a", 0));
    }

    [Fact]
    public async Task GetChunks_DuplicatesAndManyIds_OneEntryPerIdInOrder()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, new CollectionSpec { Name = "many", Dimension = 2 });
        var points = Enumerable.Range(0, 1500).Select(i => new VectorPoint(TestSupport.Chunk("d", i), new float[] { 1, i })).ToList();
        await store.UpsertAsync(points);
        var ids = new List<ChunkId> { points[3].Id, ChunkId.From("absent", 0), points[3].Id };
        ids.AddRange(points.Select(p => p.Id));

        var chunks = await store.GetChunksAsync(ids);

        chunks.Count.ShouldBe(ids.Count);
        chunks[0]!.Ordinal.ShouldBe(3);
        chunks[1].ShouldBeNull();
        chunks[2]!.Ordinal.ShouldBe(3);
        for (int i = 0; i < points.Count; i++) chunks[i + 3]!.Ordinal.ShouldBe(i);
        Calls("Points/Get").ShouldBe(2, "1,501 distinct ids in retrieve batches of 1,024");
    }

    [Fact]
    public void CheckpointId_IsStableAndValidUuid()
    {
        var id = QdrantVectorStore.CheckpointId("shard-a");
        id.ShouldBe(QdrantVectorStore.CheckpointId("shard-a"));
        id.ShouldNotBe(QdrantVectorStore.CheckpointId("shard-b"));
        Guid.TryParse(id.Uuid, out _).ShouldBeTrue();
        id.Uuid[14].ShouldBe('8', "version 8");
    }

    [Fact]
    public async Task Checkpoints_ListPagesOf256()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, new CollectionSpec { Name = "paged", Dimension = 2 });
        for (int i = 0; i < 300; i++) await store.SetAsync(new IngestCheckpoint($"shard-{i:D3}", i, i, false, 0, 0, 0, 0));
        (await store.ListAsync()).Count.ShouldBe(300);
        Calls("Points/Scroll").ShouldBe(2, "pages of 256");
        _standIn.CollectionNames.Order().ShouldBe(["paged", "paged__checkpoints"]);
    }

    [Fact]
    public async Task Upsert_NonFiniteVector_IsRejectedBeforeSending()
    {
        await using var store = await TestSupport.StoreAsync(_standIn, new CollectionSpec { Name = "nan", Dimension = 2 });
        int before = _standIn.Calls.Count;
        await Should.ThrowAsync<ArgumentException>(async () => await store.UpsertAsync([new VectorPoint(TestSupport.Chunk("d", 0), new float[] { float.PositiveInfinity, 0 })]));
        _standIn.Calls.Count.ShouldBe(before);
    }

    [Fact]
    public async Task Upsert_IsBatched_AndEveryBatchWaits()
    {
        var options = TestSupport.FastRetries() with { UpsertBatchSize = 10 };
        await using var store = await TestSupport.StoreAsync(_standIn, new CollectionSpec { Name = "batched", Dimension = 2 }, options);
        await store.UpsertAsync([.. Enumerable.Range(0, 25).Select(i => new VectorPoint(TestSupport.Chunk("d", i), new float[] { 1, i }))]);

        var upserts = TestSupport.Requests(_standIn, "Points/Upsert");
        upserts.Select(u => u.GetProperty("points").GetArrayLength()).ShouldBe([10, 10, 5]);
        upserts.ShouldAllBe(u => u.GetProperty("wait").GetBoolean());
        (await store.CountAsync()).ShouldBe(25);
    }

    [Fact]
    public async Task Upsert_BatchOverTheRequestSizeLimit_IsSplitUntilItFits()
    {
        const int limit = 64 * 1024;
        var options = TestSupport.FastRetries() with { MaxRequestBytes = limit, UpsertBatchSize = 1024 };
        await using var store = await TestSupport.StoreAsync(_standIn, new CollectionSpec { Name = "big", Dimension = 200 }, options);
        var random = new Random(9);
        var points = Enumerable.Range(0, 100).Select(i => new VectorPoint(TestSupport.Chunk("d", i), Enumerable.Range(0, 200).Select(_ => (float)random.NextDouble()).ToArray())).ToList();

        await store.UpsertAsync(points);

        var upserts = _standIn.Calls.Where(c => c.Method == "/qdrant.Points/Upsert").ToList();
        upserts.Count.ShouldBeGreaterThan(1);
        upserts.ShouldAllBe(c => c.RequestBytes <= limit);
        (await store.CountAsync()).ShouldBe(100);
    }
}
