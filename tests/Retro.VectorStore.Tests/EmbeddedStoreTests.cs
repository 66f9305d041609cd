using Retro.Core;
using Retro.VectorStore.Tests.Contract;

namespace Retro.VectorStore.Tests;

/// <summary>Embedded-store behaviour beyond the shared contract: repair of derived files, idempotency, checkpoints, int8.</summary>
public sealed class EmbeddedStoreTests : IDisposable
{
    private const int Dim = 16;
    private readonly string _directory = Directory.CreateTempSubdirectory("retro-embedded-").FullName;
    private static readonly CollectionSpec Spec = new() { Name = "c", Dimension = Dim, M = 8, EfConstruction = 64, Ef = 64 };

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string File_(string name) => Path.Combine(_directory, "c", name);

    private static async Task ShouldFindEachAtRankOneAsync(EmbeddedVectorStore store, IEnumerable<VectorPoint> points)
    {
        // A beam as wide as the collection: what is checked is that every point is present, linked and carries its own
        // vector, not the recall of a default beam over a graph whose (multi-threaded) build order varies with the
        // machine's load (ef 64 missed one of 500 points under load).
        var hits = new SearchHit[1];
        var all = points.ToList();
        foreach (var p in all)
        {
            (await store.SearchAsync(p.Vector, new SearchOptions { Limit = 1, Ef = Math.Max(64, all.Count) }, hits)).ShouldBe(1);
            hits[0].Id.ShouldBe(p.Id);
        }
    }

    [Fact]
    public async Task TruncatedVectorFile_IsReloadedFromTheDatabase()
    {
        var points = ContractData.Points(20, 25, Dim, seed: 1);
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec)) await store.UpsertAsync(points);
        // Cut the file inside the vectors (a lost tail): the header's high-water mark now exceeds the file.
        using (var f = new FileStream(File_(StoreFiles.Vectors), FileMode.Open)) f.SetLength(Vectors.VectorStorage.HeaderBytes + 100L * Dim * 4 + 7);

        await using var reopened = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        var report = reopened.LastOpenReport!;
        report.VectorsReloaded.ShouldBe(points.Count);
        report.GraphLoaded.ShouldBeFalse("the graph needs vectors that were lost, so it is rebuilt");
        report.NodesInserted.ShouldBe(points.Count);
        (await reopened.CountAsync()).ShouldBe(points.Count);
        await ShouldFindEachAtRankOneAsync(reopened, points);
    }

    [Fact]
    public async Task StaleGraph_GetsTheMissingNodes()
    {
        var points = ContractData.Points(20, 20, Dim, seed: 2);
        string saved = Path.Combine(_directory, "old");
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec))
        {
            await store.UpsertAsync(points[..300]);
            await store.FlushAsync();
            Directory.CreateDirectory(saved);
            File.Copy(File_(StoreFiles.Graph), Path.Combine(saved, StoreFiles.Graph));
            File.Copy(File_(StoreFiles.GraphConfig), Path.Combine(saved, StoreFiles.GraphConfig));
            await store.UpsertAsync(points[300..]);
        }
        // As after a crash before the next graph save: the graph on disk covers 300 of 400 nodes.
        File.Copy(Path.Combine(saved, StoreFiles.Graph), File_(StoreFiles.Graph), overwrite: true);
        File.Copy(Path.Combine(saved, StoreFiles.GraphConfig), File_(StoreFiles.GraphConfig), overwrite: true);

        await using var reopened = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        reopened.LastOpenReport!.GraphLoaded.ShouldBeTrue();
        reopened.LastOpenReport.NodesInserted.ShouldBe(100);
        await ShouldFindEachAtRankOneAsync(reopened, points);
    }

    [Fact]
    public async Task UncommittedTail_IsCleared_AndDurableMarkIsRespected()
    {
        var points = ContractData.Points(10, 10, Dim, seed: 3);
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec)) await store.UpsertAsync(points);
        // A crashed writer left vectors beyond the committed count, and the header claims nothing was flushed.
        using (var f = new FileStream(File_(StoreFiles.Vectors), FileMode.Open))
        {
            var garbage = new byte[5 * Dim * 4];
            new Random(4).NextBytes(garbage);
            f.Position = Vectors.VectorStorage.HeaderBytes + 100L * Dim * 4;
            f.Write(garbage);
            f.Position = 16;
            f.Write(new byte[8]);
        }

        await using var reopened = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        var report = reopened.LastOpenReport!;
        report.TailVectorsZeroed.ShouldBe(5);
        report.DurableVectors.ShouldBe(0);
        report.VectorsReloaded.ShouldBe(100);
        report.GraphLoaded.ShouldBeFalse("a graph ahead of the durable vectors is not trusted");
        await ShouldFindEachAtRankOneAsync(reopened, points);
        (await reopened.CountAsync()).ShouldBe(100);
    }

    [Fact]
    public async Task CleanClose_NeedsNoRepair()
    {
        var points = ContractData.Points(5, 10, Dim, seed: 5);
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec)) await store.UpsertAsync(points);
        await using var reopened = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        reopened.LastOpenReport!.Repaired.ShouldBeFalse();
        reopened.LastOpenReport.GraphLoaded.ShouldBeTrue();
    }

    [Fact]
    public async Task ReUpsertOfUnchangedPoints_WritesNothing()
    {
        var points = ContractData.Points(4, 10, Dim, seed: 6);
        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        await store.UpsertAsync(points);
        int nodes = store.Index.Graph.Count;
        await store.UpsertAsync(points);
        store.Index.Graph.Count.ShouldBe(nodes, "no new offsets for identical points");
        await store.UpsertAsync([points[0] with { Chunk = points[0].Chunk with { Text = "changed" } }]);
        store.Index.Graph.Count.ShouldBe(nodes + 1, "a changed payload is a replacement");
        (await store.CountAsync()).ShouldBe(points.Count);
    }

    [Fact]
    public async Task Checkpoints_RoundTripAndSurviveReopen()
    {
        var a = new IngestCheckpoint("shard-a", 10, 1234, false, 3, 30, 1, 0);
        var b = new IngestCheckpoint("shard-b", 99, 8888, true, 50, 500, 2, 4);
        await using (var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec))
        {
            (await store.GetAsync("shard-a")).ShouldBeNull();
            await store.SetAsync(a);
            await store.SetAsync(b);
            await store.SetAsync(a with { Records = 20, ByteOffset = 2000 });
        }
        await using var reopened = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        (await reopened.GetAsync("shard-a")).ShouldBe(a with { Records = 20, ByteOffset = 2000 });
        (await reopened.ListAsync()).ShouldBe([a with { Records = 20, ByteOffset = 2000 }, b]);
    }

    [Fact]
    public async Task Int8Collection_FindsEveryPoint_AndReportsFloatScores()
    {
        var spec = Spec with { Quantization = QuantizationKind.Int8 };
        var points = ContractData.Points(20, 20, Dim, seed: 7);
        await using var store = await EmbeddedVectorStore.OpenAsync(_directory, spec);
        await store.UpsertAsync(points);
        store.Index.Quantize.ShouldBeTrue();
        await ShouldFindEachAtRankOneAsync(store, points);
        var hits = new SearchHit[5];
        var query = ContractData.Vector(new Random(8), Dim);
        int n = await store.SearchAsync(query, new SearchOptions { Limit = 5, Ef = 400 }, hits);
        var expected = ContractData.BruteForce(points, DistanceMetric.Cosine, query, new SearchOptions(), 5);
        hits.Take(n).Select(h => h.Id).ShouldBe(expected.Select(h => h.Id));
        for (int i = 0; i < n; i++) hits[i].Score.ShouldBe(expected[i].Score, 1e-4f);
    }

    [Fact]
    public async Task InvalidArguments_AreRejectedAtTheBoundary()
    {
        Should.Throw<ArgumentException>(() => new EmbeddedVectorStore(" "));
        await using var store = new EmbeddedVectorStore(_directory);
        Should.Throw<InvalidOperationException>(() => store.Collection);
        await Should.ThrowAsync<ArgumentException>(async () => await store.EnsureCollectionAsync(Spec with { Dimension = 0 }));
        await Should.ThrowAsync<ArgumentException>(async () => await store.EnsureCollectionAsync(Spec with { Name = "../escape" }));
        await store.EnsureCollectionAsync(Spec);
        await Should.ThrowAsync<ArgumentOutOfRangeException>(async () => await store.SearchAsync(new float[Dim], new SearchOptions { Limit = 0 }, new SearchHit[1]));
        var nan = new float[Dim];
        nan[3] = float.NaN;
        await Should.ThrowAsync<ArgumentException>(async () => await store.UpsertAsync([new VectorPoint(ContractData.Chunk("d", 0), nan)]));
    }

    [Fact]
    public async Task SecondInstanceOnTheSameCollection_IsRefused_UntilTheFirstCloses()
    {
        var first = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        await Should.ThrowAsync<InvalidOperationException>(async () => await EmbeddedVectorStore.OpenAsync(_directory, Spec));
        await first.DisposeAsync();
        await using var second = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        (await second.IsHealthyAsync()).ShouldBeTrue();
    }

    [Fact]
    public async Task Disposed_StoreRefusesWork()
    {
        var store = await EmbeddedVectorStore.OpenAsync(_directory, Spec);
        await store.DisposeAsync();
        await store.DisposeAsync(); // idempotent
        (await store.IsHealthyAsync()).ShouldBeFalse();
        await Should.ThrowAsync<ObjectDisposedException>(async () => await store.SearchAsync(new float[Dim], new SearchOptions(), new SearchHit[1]));
    }
}
