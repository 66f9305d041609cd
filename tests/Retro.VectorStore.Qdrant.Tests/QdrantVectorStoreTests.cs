using System.Text.Json;
using Retro.Core;
using Retro.VectorStore.Qdrant.Rest;
using Retro.VectorStore.Qdrant.Tests.Emulator;
using Retro.VectorStore.Qdrant.Tests.Support;

namespace Retro.VectorStore.Qdrant.Tests;

/// <summary>Behaviour of <see cref="QdrantVectorStore"/> beyond the shared contract, over the emulator.</summary>
public sealed class QdrantVectorStoreTests : IDisposable
{
    private readonly QdrantEmulator _emulator = new();

    public void Dispose()
    {
        _emulator.SpecViolations.ShouldBeEmpty();
        _emulator.Dispose();
    }

    private static Chunk Chunk(string document, int ordinal, Dictionary<string, string>? metadata = null)
        => new(ChunkId.From(document, ordinal), document, "", ordinal, $"text {ordinal}", [ordinal], "", [], metadata ?? []);

    [Fact]
    public async Task Collection_BeforeEnsure_Throws()
    {
        var options = TestSupport.FastRetries();
        await using var store = new QdrantVectorStore(TestSupport.Client(_emulator, options), options, ownsClient: true);
        Should.Throw<InvalidOperationException>(() => store.Collection).Message.ShouldContain("EnsureCollectionAsync");
        await Should.ThrowAsync<InvalidOperationException>(async () => await store.CountAsync());
    }

    [Fact]
    public async Task EnsureCollection_CreatesKeywordIndexOnDocumentId()
    {
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "idx", Dimension = 3 });
        var info = await store.Client.GetCollectionAsync("idx");
        info.ShouldNotBeNull().PayloadSchema.ShouldNotBeNull()[QdrantFilters.DocumentIdField].DataType.ShouldBe("keyword");
        info.Config.Params.Vectors!.Single!.Distance.ShouldBe(QdrantDistance.Cosine);
    }

    [Fact]
    public async Task EnsureCollection_InvalidSpecOrReservedName_ThrowsArgumentException()
    {
        var options = TestSupport.FastRetries();
        await using var store = new QdrantVectorStore(TestSupport.Client(_emulator, options), options, ownsClient: true);
        await Should.ThrowAsync<ArgumentException>(async () => await store.EnsureCollectionAsync(new CollectionSpec { Name = "bad name!", Dimension = 3 }));
        await Should.ThrowAsync<ArgumentException>(async () => await store.EnsureCollectionAsync(new CollectionSpec { Name = "x", Dimension = 0 }));
        await Should.ThrowAsync<ArgumentException>(async () => await store.EnsureCollectionAsync(new CollectionSpec { Name = "x__checkpoints", Dimension = 3 }));
        _emulator.CollectionNames.ShouldBeEmpty();
    }

    [Fact]
    public async Task EnsureCollection_NamedVectorCollection_IsAConflict()
    {
        using var client = TestSupport.Client(_emulator);
        // The emulator holds unnamed vectors only; a foreign collection of another metric stands in for "not ours".
        await client.CreateCollectionAsync("foreign", new CreateCollectionRequest { Vectors = new VectorParams { Size = 3, Distance = QdrantDistance.Manhattan } });
        var options = TestSupport.FastRetries();
        await using var store = new QdrantVectorStore(TestSupport.Client(_emulator, options), options, ownsClient: true);
        var e = await Should.ThrowAsync<InvalidOperationException>(async () => await store.EnsureCollectionAsync(new CollectionSpec { Name = "foreign", Dimension = 3 }));
        e.Message.ShouldContain("Manhattan");
    }

    [Fact]
    public async Task Euclid_ScoreIsNegativeSquaredDistance()
    {
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "l2", Dimension = 2, Metric = DistanceMetric.Euclid });
        await store.UpsertAsync([new VectorPoint(Chunk("d", 0), new float[] { 3, 4 }), new VectorPoint(Chunk("d", 1), new float[] { 1, 1 })]);
        var hits = new SearchHit[2];

        (await store.SearchAsync(new float[] { 0, 0 }, new SearchOptions { Limit = 2 }, hits)).ShouldBe(2);

        hits[0].Id.ShouldBe(ChunkId.From("d", 1));
        hits[0].Score.ShouldBe(-2f, 1e-5f);
        hits[1].Score.ShouldBe(-25f, 1e-4f);
        QdrantVectorStore.ToSearchScore(DistanceMetric.Euclid, 5f).ShouldBe(-25f);
        QdrantVectorStore.ToSearchScore(DistanceMetric.Dot, -5f).ShouldBe(-5f);
    }

    [Fact]
    public async Task Search_EmptyOnlyDocuments_ReturnsNothingWithoutAsking()
    {
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "e", Dimension = 2 });
        await store.UpsertAsync([new VectorPoint(Chunk("d", 0), new float[] { 1, 0 })]);
        int before = _emulator.Requests.Count;
        (await store.SearchAsync(new float[] { 1, 0 }, new SearchOptions { OnlyDocuments = new HashSet<string>() }, new SearchHit[4])).ShouldBe(0);
        (await store.SearchAsync(new float[] { 1, 0 }, new SearchOptions(), Memory<SearchHit>.Empty)).ShouldBe(0);
        _emulator.Requests.Count.ShouldBe(before);
        await Should.ThrowAsync<ArgumentException>(async () => await store.SearchAsync(new float[] { float.NaN, 0 }, new SearchOptions(), new SearchHit[4]));
        await Should.ThrowAsync<ArgumentOutOfRangeException>(async () => await store.SearchAsync(new float[] { 1, 0 }, new SearchOptions { Limit = 0 }, new SearchHit[4]));
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
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "meta", Dimension = 2 });
        await store.UpsertAsync([
            new VectorPoint(Chunk("a", 0, new() { ["a.b"] = "1", ["k=v"] = "x" }), new float[] { 1, 0 }),
            new VectorPoint(Chunk("b", 0, new() { ["a.b"] = "2", ["k=v"] = "x" }), new float[] { 1, 0.1f }),
            new VectorPoint(Chunk("c", 0, new() { ["a"] = "{\"b\":\"1\"}" }), new float[] { 1, 0.2f }),
        ]);
        var hits = new SearchHit[5];
        int n = await store.SearchAsync(new float[] { 1, 0 }, new SearchOptions { MetadataEquals = new Dictionary<string, string> { ["a.b"] = "1", ["k=v"] = "x" } }, hits);
        n.ShouldBe(1);
        hits[0].Id.ShouldBe(ChunkId.From("a", 0));
    }

    [Fact]
    public async Task ForeignPoint_WithoutRetroPayload_IsReportedClearly()
    {
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "mixed", Dimension = 2 });
        var id = ChunkId.From("foreign", 0);
        await store.Client.UpsertPointsAsync("mixed", [new PointStruct { Id = PointId.FromUuid(id.Value), Vector = new float[] { 1, 0 }, Payload = JsonSerializer.SerializeToElement(new Dictionary<string, int> { ["city"] = 1 }) }]);
        var e = await Should.ThrowAsync<InvalidDataException>(async () => await store.GetChunksAsync([id]));
        e.Message.ShouldContain(id.ToString());
        e.Message.ShouldContain("not a Retro chunk");
    }

    [Fact]
    public async Task GetChunks_DuplicatesAndManyIds_OneEntryPerIdInOrder()
    {
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "many", Dimension = 2 });
        var points = Enumerable.Range(0, 1500).Select(i => new VectorPoint(Chunk("d", i), new float[] { 1, i })).ToList();
        await store.UpsertAsync(points);
        var ids = new List<ChunkId> { points[3].Id, ChunkId.From("absent", 0), points[3].Id };
        ids.AddRange(points.Select(p => p.Id));

        var chunks = await store.GetChunksAsync(ids);

        chunks.Count.ShouldBe(ids.Count);
        chunks[0]!.Ordinal.ShouldBe(3);
        chunks[1].ShouldBeNull();
        chunks[2]!.Ordinal.ShouldBe(3);
        for (int i = 0; i < points.Count; i++) chunks[i + 3]!.Ordinal.ShouldBe(i);
        _emulator.Requests.Count(r => r.PathAndQuery == "/collections/many/points").ShouldBe(2, "1,501 distinct ids in retrieve batches of 1,024");
    }

    [Fact]
    public async Task Checkpoints_LiveInASideCollection_AndRoundTrip()
    {
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "corpus", Dimension = 2 });
        (await store.GetAsync("shard-a")).ShouldBeNull();
        (await store.ListAsync()).ShouldBeEmpty();
        _emulator.CollectionNames.ShouldBe(["corpus"], "reading checkpoints creates nothing");

        var a = new IngestCheckpoint("/data/shard-a.jsonl.gz|1234|2026-11-22T00:00:00Z", 100, 65_536, false, 90, 400, 7, 3);
        var b = new IngestCheckpoint("/data/shard-b.jsonl", 5, 10, true, 5, 20, 0, 0);
        await store.SetAsync(a);
        await store.SetAsync(b);
        await store.SetAsync(a with { Records = 200, ByteOffset = 131_072, Completed = true });

        (await store.GetAsync(a.ShardKey)).ShouldBe(a with { Records = 200, ByteOffset = 131_072, Completed = true });
        (await store.GetAsync("/data/unknown")).ShouldBeNull();
        var all = await store.ListAsync();
        all.Select(c => c.ShardKey).ShouldBe([a.ShardKey, b.ShardKey]);
        _emulator.CollectionNames.Order().ShouldBe(["corpus", "corpus__checkpoints"]);
        (await store.CountAsync()).ShouldBe(0, "checkpoints are not chunks");

        // A second store instance (a restarted indexer) sees them.
        await using var again = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "corpus", Dimension = 2 });
        (await again.GetAsync(b.ShardKey)).ShouldBe(b);
    }

    [Fact]
    public async Task Checkpoints_ManyShards_ListPagesThroughAll()
    {
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "paged", Dimension = 2 });
        for (int i = 0; i < 300; i++) await store.SetAsync(new IngestCheckpoint($"shard-{i:D3}", i, i, false, 0, 0, 0, 0));
        var all = await store.ListAsync();
        all.Count.ShouldBe(300);
        all[299].ShardKey.ShouldBe("shard-299");
        _emulator.Requests.Count(r => r.PathAndQuery == "/collections/paged__checkpoints/points/scroll").ShouldBe(2, "pages of 256");
    }

    [Fact]
    public void CheckpointId_IsStableAndValidUuid()
    {
        var id = QdrantVectorStore.CheckpointId("shard-a");
        id.ShouldBe(QdrantVectorStore.CheckpointId("shard-a"));
        id.ShouldNotBe(QdrantVectorStore.CheckpointId("shard-b"));
        id.IsUuid.ShouldBeTrue();
        id.ToString()[14].ShouldBe('8', "version 8");
    }

    [Fact]
    public async Task AliasesAndSnapshots_ThroughTheClient()
    {
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "retro_v2", Dimension = 2 });
        await store.UpsertAsync([new VectorPoint(Chunk("d", 0), new float[] { 1, 0 })]);
        await store.Client.UpdateAliasesAsync([AliasOperation.Create("retro", "retro_v2")]);

        await using var viaAlias = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "retro", Dimension = 2 });
        (await viaAlias.CountAsync()).ShouldBe(1, "an alias reads the collection it names");

        var snapshot = await store.Client.CreateSnapshotAsync("retro_v2");
        snapshot.Name.ShouldStartWith("retro_v2-");
        (await store.Client.ListSnapshotsAsync("retro_v2")).ShouldHaveSingleItem().Checksum.ShouldBe(snapshot.Checksum);
        Should.Throw<ArgumentException>(() => store.Client.UpdateAliasesAsync([new AliasOperation()]));
    }

    [Fact]
    public async Task Upsert_NonFiniteVector_IsRejectedBeforeSending()
    {
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "nan", Dimension = 2 });
        int before = _emulator.Requests.Count;
        await Should.ThrowAsync<ArgumentException>(async () => await store.UpsertAsync([new VectorPoint(Chunk("d", 0), new float[] { float.PositiveInfinity, 0 })]));
        _emulator.Requests.Count.ShouldBe(before);
    }

    [Fact]
    public async Task Upsert_BatchOverTheRequestSizeLimit_IsSplitUntilItFits()
    {
        const int limit = 64 * 1024;
        var options = TestSupport.FastRetries() with { MaxRequestBytes = limit, UpsertBatchSize = 1024 };
        await using var store = await TestSupport.StoreAsync(_emulator, new CollectionSpec { Name = "big", Dimension = 200 }, options);
        var random = new Random(9);
        var points = Enumerable.Range(0, 100).Select(i => new VectorPoint(Chunk("d", i), Enumerable.Range(0, 200).Select(_ => (float)random.NextDouble()).ToArray())).ToList();

        await store.UpsertAsync(points);

        var upserts = _emulator.Requests.Where(r => r.PathAndQuery == "/collections/big/points?wait=true").ToList();
        upserts.Count.ShouldBeGreaterThan(1);
        upserts.ShouldAllBe(r => System.Text.Encoding.UTF8.GetByteCount(r.Body!) <= limit);
        (await store.CountAsync()).ShouldBe(100);
    }
}
