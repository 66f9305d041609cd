using Retro.Core;

namespace Retro.VectorStore.Tests.Contract;

/// <summary>
/// The <see cref="IVectorStore"/> / <see cref="IChunkStore"/> contract every store passes. A store's test class
/// derives from this one and supplies <see cref="CreateStoreAsync"/> (and <see cref="ReopenStoreAsync"/> when the
/// store persists); <see cref="SkipReason"/> skips the whole suite (e.g. no server). Stores created through the
/// factory are disposed after each test.
/// </summary>
public abstract class VectorStoreContractTests : IAsyncLifetime
{
    /// <summary>Dimension of the contract's vectors (small: the suite checks semantics, not speed).</summary>
    protected const int Dimension = 16;

    /// <summary>
    /// Beam width for searches whose results are compared with brute force: at least the collection size, so any
    /// correct HNSW (or exact) search returns the exact neighbours of these small collections.
    /// </summary>
    protected const int ExactEf = 512;

    /// <summary>Tolerance on scores (float32 arithmetic in the store vs double in the reference).</summary>
    protected const float ScoreTolerance = 1e-4f;

    private readonly List<IVectorStore> _stores = [];

    /// <summary>
    /// A new store over a fresh, empty location (directory, collection name, ...) on which
    /// <see cref="IVectorStore.EnsureCollectionAsync"/> was called with <paramref name="spec"/>. The factory may
    /// change the spec's <c>Name</c> (e.g. to make it unique) but nothing else.
    /// </summary>
    protected abstract Task<IVectorStore> CreateStoreAsync(CollectionSpec spec);

    /// <summary>
    /// Disposes <paramref name="store"/>, opens a new instance over the same location and calls
    /// <see cref="IVectorStore.EnsureCollectionAsync"/> with <paramref name="spec"/>; on conflict it disposes the new
    /// instance and lets the <see cref="InvalidOperationException"/> propagate. Returns null when the store cannot be reopened (the persistence tests then skip).
    /// </summary>
    protected virtual Task<IVectorStore?> ReopenStoreAsync(IVectorStore store, CollectionSpec spec) => Task.FromResult<IVectorStore?>(null);

    /// <summary>Non-null to skip every contract test with this reason (e.g. the server is not reachable).</summary>
    protected virtual string? SkipReason => null;

    /// <summary>False for a store whose <see cref="IVectorStore.DeleteDocumentAsync"/> returns -1 (cannot tell).</summary>
    protected virtual bool DeleteReturnsCount => true;

    /// <summary>Reports the running test as skipped.</summary>
    protected static void Skip(string reason) => throw new ContractSkipException(reason);

    /// <summary>The spec the contract uses, for <paramref name="metric"/>.</summary>
    protected static CollectionSpec Spec(DistanceMetric metric = DistanceMetric.Cosine) => new()
    {
        Name = "contract",
        Dimension = Dimension,
        Metric = metric,
        M = 8,
        EfConstruction = 64,
        Ef = 32,
    };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores) await store.DisposeAsync();
        _stores.Clear();
    }

    private async Task<IVectorStore> NewAsync(DistanceMetric metric = DistanceMetric.Cosine)
    {
        if (SkipReason is { } reason) Skip(reason);
        var store = await CreateStoreAsync(Spec(metric));
        _stores.Add(store);
        return store;
    }

    private async Task<IVectorStore> ReopenAsync(IVectorStore store, CollectionSpec? spec = null)
    {
        var reopened = await ReopenStoreAsync(store, spec ?? store.Collection);
        if (reopened is null) Skip("this store cannot be reopened");
        _stores.Add(reopened!);
        return reopened!;
    }

    private static async Task<SearchHit[]> SearchAsync(IVectorStore store, float[] query, SearchOptions options)
    {
        var results = new SearchHit[options.Limit];
        int n = await store.SearchAsync(query, options, results);
        return results[..n];
    }

    private static void ShouldMatch(SearchHit[] actual, List<SearchHit> expected, string because)
    {
        actual.Select(h => h.Id).ShouldBe(expected.Select(h => h.Id), because);
        for (int i = 0; i < actual.Length; i++)
        {
            actual[i].Score.ShouldBe(expected[i].Score, ScoreTolerance * Math.Max(1f, Math.Abs(expected[i].Score)), $"{because}: score of rank {i}");
        }
    }

    private static void ShouldEqual(Chunk? actual, Chunk expected)
    {
        actual.ShouldNotBeNull($"chunk {expected.Id} missing");
        actual.Id.ShouldBe(expected.Id);
        actual.DocumentId.ShouldBe(expected.DocumentId);
        actual.Url.ShouldBe(expected.Url);
        actual.Ordinal.ShouldBe(expected.Ordinal);
        actual.Text.ShouldBe(expected.Text);
        actual.Tokens.ShouldBe(expected.Tokens);
        actual.ContinuationText.ShouldBe(expected.ContinuationText);
        actual.ContinuationTokens.ShouldBe(expected.ContinuationTokens);
        actual.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal).ShouldBe(expected.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    private static async Task ShouldCancelAsync(Func<Task> action)
    {
        Exception? caught = null;
        try { await action(); }
        catch (Exception e) { caught = e; }
        caught.ShouldBeAssignableTo<OperationCanceledException>();
    }

    // ---------------------------------------------------------------- collection

    [ContractFact]
    public async Task NewCollection_IsEmptyAndHealthy()
    {
        var store = await NewAsync();
        store.Collection.Dimension.ShouldBe(Dimension);
        store.Collection.Metric.ShouldBe(DistanceMetric.Cosine);
        (await store.CountAsync()).ShouldBe(0);
        (await store.IsHealthyAsync()).ShouldBeTrue();
        (await SearchAsync(store, ContractData.Vector(new Random(1), Dimension), new SearchOptions { Limit = 5 })).ShouldBeEmpty();
    }

    [ContractFact]
    public async Task EnsureCollection_SameSpecAgain_KeepsPoints()
    {
        var store = await NewAsync();
        await store.UpsertAsync(ContractData.Points(2, 3, Dimension, seed: 2));
        await store.EnsureCollectionAsync(store.Collection);
        (await store.CountAsync()).ShouldBe(6);
    }

    [ContractFact]
    public async Task EnsureCollection_ConflictingDimension_Throws()
    {
        var store = await NewAsync();
        await Should.ThrowAsync<InvalidOperationException>(async () => await store.EnsureCollectionAsync(store.Collection with { Dimension = Dimension + 1 }));
    }

    [ContractFact]
    public async Task EnsureCollection_ConflictingMetric_Throws()
    {
        var store = await NewAsync();
        await Should.ThrowAsync<InvalidOperationException>(async () => await store.EnsureCollectionAsync(store.Collection with { Metric = DistanceMetric.Dot }));
    }

    // ---------------------------------------------------------------- upsert and fetch

    [ContractFact]
    public async Task Upsert_RoundTripsEveryPayloadField()
    {
        var store = await NewAsync();
        var random = new Random(3);
        var chunks = new[]
        {
            ContractData.Chunk("doc-a", 0),
            ContractData.Chunk("doc-a", 1),
            ContractData.Chunk("doc-a", 2), // empty continuation
            ContractData.Chunk("nourl-b", 0, new Dictionary<string, string>()), // no url, no metadata
            ContractData.Chunk("doc-c", 7, new Dictionary<string, string> { ["timestamp"] = "2020-01-01T00:00:00Z", ["k=v"] = "a \"quoted\"\nvalue" }),
        };
        await store.UpsertAsync([.. chunks.Select(c => new VectorPoint(c, ContractData.Vector(random, Dimension)))]);

        var fetched = await store.GetChunksAsync([.. chunks.Select(c => c.Id)]);
        fetched.Count.ShouldBe(chunks.Length);
        for (int i = 0; i < chunks.Length; i++) ShouldEqual(fetched[i], chunks[i]);
        (await store.CountAsync()).ShouldBe(chunks.Length);
    }

    [ContractFact]
    public async Task GetChunks_MissingIds_AreNullInOrder()
    {
        var store = await NewAsync();
        var points = ContractData.Points(1, 2, Dimension, seed: 4);
        await store.UpsertAsync(points);
        var missing = ChunkId.From("never-stored", 0);
        var fetched = await store.GetChunksAsync([missing, points[1].Id, missing, points[0].Id]);
        fetched.Count.ShouldBe(4);
        fetched[0].ShouldBeNull();
        ShouldEqual(fetched[1], points[1].Chunk);
        fetched[2].ShouldBeNull();
        ShouldEqual(fetched[3], points[0].Chunk);
        (await store.GetChunksAsync([])).ShouldBeEmpty();
    }

    [ContractFact]
    public async Task Upsert_SameBatchTwice_ChangesNothing()
    {
        var store = await NewAsync();
        var points = ContractData.Points(4, 5, Dimension, seed: 5);
        await store.UpsertAsync(points);
        var query = points[7].Vector.ToArray();
        var before = await SearchAsync(store, query, new SearchOptions { Limit = 5, Ef = ExactEf });

        await store.UpsertAsync(points);

        (await store.CountAsync()).ShouldBe(points.Count);
        var after = await SearchAsync(store, query, new SearchOptions { Limit = 5, Ef = ExactEf });
        after.Select(h => h.Id).ShouldBe(before.Select(h => h.Id));
        after.Select(h => h.Id).Distinct().Count().ShouldBe(after.Length, "a re-upserted point must not appear twice");
        after[0].Id.ShouldBe(points[7].Id);
    }

    [ContractFact]
    public async Task Upsert_ExistingId_ReplacesVectorAndPayload()
    {
        var store = await NewAsync();
        var points = ContractData.Points(3, 4, Dimension, seed: 6);
        await store.UpsertAsync(points);
        var random = new Random(60);
        var newVector = ContractData.Vector(random, Dimension);
        var old = points[5];
        var replaced = new VectorPoint(old.Chunk with { Text = "replaced text", Tokens = [1, 2, 3] }, newVector);

        await store.UpsertAsync([replaced]);

        (await store.CountAsync()).ShouldBe(points.Count);
        ShouldEqual((await store.GetChunksAsync([old.Id]))[0], replaced.Chunk);
        var hits = await SearchAsync(store, newVector, new SearchOptions { Limit = points.Count, Ef = ExactEf });
        hits[0].Id.ShouldBe(old.Id);
        hits[0].Score.ShouldBe(1f, ScoreTolerance);
        hits.Count(h => h.Id == old.Id).ShouldBe(1, "the old vector of a replaced point must not be found");
        var all = points.Select(p => p.Id == old.Id ? replaced : p).ToList();
        ShouldMatch(hits, ContractData.BruteForce(all, DistanceMetric.Cosine, newVector, new SearchOptions(), points.Count), "after replace");
    }

    [ContractFact]
    public async Task Upsert_EmptyBatch_IsNoOp()
    {
        var store = await NewAsync();
        await store.UpsertAsync([]);
        (await store.CountAsync()).ShouldBe(0);
    }

    [ContractFact]
    public async Task Upsert_WrongDimensionOrNull_ThrowsArgumentException()
    {
        var store = await NewAsync();
        var chunk = ContractData.Chunk("doc-x", 0);
        await Should.ThrowAsync<ArgumentException>(async () => await store.UpsertAsync([new VectorPoint(chunk, new float[Dimension + 1])]));
        await Should.ThrowAsync<ArgumentNullException>(async () => await store.UpsertAsync(null!));
        (await store.CountAsync()).ShouldBe(0, "a rejected batch writes nothing");
    }

    // ---------------------------------------------------------------- search

    [ContractFact]
    public Task Search_Cosine_MatchesBruteForce() => SearchMatchesBruteForceAsync(DistanceMetric.Cosine);

    [ContractFact]
    public Task Search_Dot_MatchesBruteForce() => SearchMatchesBruteForceAsync(DistanceMetric.Dot);

    [ContractFact]
    public Task Search_Euclid_MatchesBruteForce() => SearchMatchesBruteForceAsync(DistanceMetric.Euclid);

    private async Task SearchMatchesBruteForceAsync(DistanceMetric metric)
    {
        var store = await NewAsync(metric);
        var points = ContractData.Points(20, 10, Dimension, seed: 7 + (int)metric);
        await store.UpsertAsync(points[..100]);
        await store.UpsertAsync(points[100..]);
        var random = new Random(70);
        for (int q = 0; q < 10; q++)
        {
            var query = ContractData.Vector(random, Dimension);
            for (int i = 0; i < query.Length; i++) query[i] *= 1.7f; // not normalised: cosine must normalise
            var hits = await SearchAsync(store, query, new SearchOptions { Limit = 10, Ef = ExactEf });
            ShouldMatch(hits, ContractData.BruteForce(points, metric, query, new SearchOptions(), 10), $"{metric} query {q}");
        }
    }

    [ContractFact]
    public async Task Search_WritesAtMostLimitAndBufferLength()
    {
        var store = await NewAsync();
        var points = ContractData.Points(2, 5, Dimension, seed: 8);
        await store.UpsertAsync(points);
        var query = points[0].Vector.ToArray();

        var small = new SearchHit[3];
        (await store.SearchAsync(query, new SearchOptions { Limit = 8 }, small)).ShouldBe(3);
        var large = new SearchHit[50];
        (await store.SearchAsync(query, new SearchOptions { Limit = 4 }, large)).ShouldBe(4);
        (await store.SearchAsync(query, new SearchOptions { Limit = 50, Ef = ExactEf }, large)).ShouldBe(points.Count);
        for (int i = 1; i < points.Count; i++) large[i].Score.ShouldBeLessThanOrEqualTo(large[i - 1].Score, "best first");
    }

    [ContractFact]
    public async Task Search_WrongDimension_ThrowsArgumentException()
    {
        var store = await NewAsync();
        await store.UpsertAsync(ContractData.Points(1, 2, Dimension, seed: 9));
        await Should.ThrowAsync<ArgumentException>(async () => await store.SearchAsync(new float[Dimension - 1], new SearchOptions(), new SearchHit[10]));
    }

    [ContractFact]
    public async Task Search_ExcludeDocument_NeverReturnsIt()
    {
        var options = new SearchOptions { Limit = 10, Ef = ExactEf, ExcludeDocument = "doc-3" };
        await FilteredSearchMatchesBruteForceAsync(options);
    }

    [ContractFact]
    public async Task Search_OnlyDocuments_ReturnsOnlyThem()
    {
        var options = new SearchOptions { Limit = 10, Ef = ExactEf, OnlyDocuments = new HashSet<string> { "doc-1", "doc-12", "doc-absent" } };
        await FilteredSearchMatchesBruteForceAsync(options);
    }

    [ContractFact]
    public async Task Search_MetadataEquals_ReturnsOnlyMatches()
    {
        var options = new SearchOptions { Limit = 10, Ef = ExactEf, MetadataEquals = new Dictionary<string, string> { ["source"] = "web", ["shard"] = "1" } };
        await FilteredSearchMatchesBruteForceAsync(options);
    }

    [ContractFact]
    public async Task Search_CombinedFilters_AllApply()
    {
        var options = new SearchOptions
        {
            Limit = 10,
            Ef = ExactEf,
            OnlyDocuments = new HashSet<string> { "doc-0", "doc-2", "doc-4", "doc-5" },
            ExcludeDocument = "doc-2",
            MetadataEquals = new Dictionary<string, string> { ["source"] = "web" },
        };
        await FilteredSearchMatchesBruteForceAsync(options);
    }

    [ContractFact]
    public async Task Search_FilterMatchingNothing_ReturnsNoHits()
    {
        var store = await NewAsync();
        var points = ContractData.Points(5, 4, Dimension, seed: 10);
        await store.UpsertAsync(points);
        var query = points[0].Vector.ToArray();
        (await SearchAsync(store, query, new SearchOptions { OnlyDocuments = new HashSet<string> { "doc-absent" } })).ShouldBeEmpty();
        (await SearchAsync(store, query, new SearchOptions { MetadataEquals = new Dictionary<string, string> { ["source"] = "nowhere" } })).ShouldBeEmpty();
    }

    private async Task FilteredSearchMatchesBruteForceAsync(SearchOptions options)
    {
        var store = await NewAsync();
        var points = ContractData.Points(20, 10, Dimension, seed: 11);
        await store.UpsertAsync(points);
        var random = new Random(110);
        for (int q = 0; q < 8; q++)
        {
            // Queries next to excluded points too: the filter, not the geometry, must keep them out.
            var query = q % 2 == 0 ? ContractData.Vector(random, Dimension) : points[random.Next(points.Count)].Vector.ToArray();
            var hits = await SearchAsync(store, query, options);
            ShouldMatch(hits, ContractData.BruteForce(points, DistanceMetric.Cosine, query, options, options.Limit), $"filtered query {q}");
            hits.Length.ShouldBeGreaterThan(0);
        }
    }

    // ---------------------------------------------------------------- delete and count

    [ContractFact]
    public async Task DeleteDocument_RemovesExactlyItsPoints()
    {
        var store = await NewAsync();
        var points = ContractData.Points(6, 5, Dimension, seed: 12);
        await store.UpsertAsync(points);

        long deleted = await store.DeleteDocumentAsync("doc-2");

        if (DeleteReturnsCount) deleted.ShouldBe(5);
        else deleted.ShouldBeOneOf(5, -1);
        (await store.CountAsync()).ShouldBe(points.Count - 5);
        var gone = points.Where(p => p.Chunk.DocumentId == "doc-2").ToList();
        (await store.GetChunksAsync([.. gone.Select(p => p.Id)])).ShouldAllBe(c => c == null);
        var kept = points.Where(p => p.Chunk.DocumentId != "doc-2").ToList();
        foreach (var p in gone)
        {
            var hits = await SearchAsync(store, p.Vector.ToArray(), new SearchOptions { Limit = 10, Ef = ExactEf });
            hits.ShouldNotContain(h => h.Id == p.Id);
            ShouldMatch(hits, ContractData.BruteForce(kept, DistanceMetric.Cosine, p.Vector.Span, new SearchOptions(), 10), "after delete");
        }
        long again = await store.DeleteDocumentAsync("doc-2");
        if (DeleteReturnsCount) again.ShouldBe(0);
        (await store.CountAsync()).ShouldBe(points.Count - 5);
    }

    [ContractFact]
    public async Task DeleteDocument_ThenUpsertAgain_RestoresIt()
    {
        var store = await NewAsync();
        var points = ContractData.Points(3, 4, Dimension, seed: 13);
        await store.UpsertAsync(points);
        await store.DeleteDocumentAsync("doc-1");
        await store.UpsertAsync(points);
        (await store.CountAsync()).ShouldBe(points.Count);
        var hits = await SearchAsync(store, points[5].Vector.ToArray(), new SearchOptions { Limit = 1, Ef = ExactEf });
        hits[0].Id.ShouldBe(points[5].Id);
    }

    [ContractFact]
    public async Task Count_TracksUpserts()
    {
        var store = await NewAsync();
        var points = ContractData.Points(10, 10, Dimension, seed: 14);
        for (int i = 0; i < points.Count; i += 25)
        {
            await store.UpsertAsync(points[i..(i + 25)]);
            (await store.CountAsync()).ShouldBe(i + 25);
        }
    }

    // ---------------------------------------------------------------- durability

    [ContractFact]
    public async Task Flush_ThenReopen_KeepsEverything()
    {
        var store = await NewAsync(DistanceMetric.Dot);
        var points = ContractData.Points(10, 8, Dimension, seed: 15);
        await store.UpsertAsync(points);
        await store.DeleteDocumentAsync("doc-4");
        await store.FlushAsync();

        var reopened = await ReopenAsync(store);

        var kept = points.Where(p => p.Chunk.DocumentId != "doc-4").ToList();
        (await reopened.CountAsync()).ShouldBe(kept.Count);
        reopened.Collection.Metric.ShouldBe(DistanceMetric.Dot);
        var fetched = await reopened.GetChunksAsync([.. points.Select(p => p.Id)]);
        for (int i = 0; i < points.Count; i++)
        {
            if (points[i].Chunk.DocumentId == "doc-4") fetched[i].ShouldBeNull();
            else ShouldEqual(fetched[i], points[i].Chunk);
        }
        var query = ContractData.Vector(new Random(150), Dimension);
        ShouldMatch(await SearchAsync(reopened, query, new SearchOptions { Limit = 10, Ef = ExactEf }),
            ContractData.BruteForce(kept, DistanceMetric.Dot, query, new SearchOptions(), 10), "after reopen");
    }

    [ContractFact]
    public async Task Reopen_WithoutFlush_KeepsAcknowledgedUpserts()
    {
        var store = await NewAsync();
        var points = ContractData.Points(5, 5, Dimension, seed: 16);
        await store.UpsertAsync(points[..10]);
        await store.UpsertAsync(points[10..]);

        var reopened = await ReopenAsync(store);

        (await reopened.CountAsync()).ShouldBe(points.Count);
        foreach (var p in points)
        {
            var hits = await SearchAsync(reopened, p.Vector.ToArray(), new SearchOptions { Limit = 1, Ef = ExactEf });
            hits[0].Id.ShouldBe(p.Id);
        }
    }

    [ContractFact]
    public async Task Reopen_WithConflictingSpec_Throws()
    {
        var store = await NewAsync();
        await store.UpsertAsync(ContractData.Points(1, 3, Dimension, seed: 17));
        await store.FlushAsync();
        IVectorStore? reopened;
        try
        {
            reopened = await ReopenStoreAsync(store, store.Collection with { Dimension = Dimension * 2 });
        }
        catch (InvalidOperationException)
        {
            return; // the contract: a conflicting existing collection fails
        }
        if (reopened is null) Skip("this store cannot be reopened");
        _stores.Add(reopened!);
        throw new Xunit.Sdk.XunitException("reopening with another dimension must throw InvalidOperationException");
    }

    // ---------------------------------------------------------------- cancellation and concurrency

    [ContractFact]
    public async Task CancelledToken_IsHonoured()
    {
        var store = await NewAsync();
        var points = ContractData.Points(2, 3, Dimension, seed: 18);
        await store.UpsertAsync(points[..3]);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        await ShouldCancelAsync(async () => await store.UpsertAsync(points[3..], cts.Token));
        await ShouldCancelAsync(async () => await store.SearchAsync(points[0].Vector, new SearchOptions(), new SearchHit[10], cts.Token));
        await ShouldCancelAsync(async () => await store.GetChunksAsync([points[0].Id], cts.Token));
        await ShouldCancelAsync(async () => await store.DeleteDocumentAsync("doc-0", cts.Token));
        (await store.CountAsync()).ShouldBe(3, "a cancelled upsert or delete writes nothing");
    }

    [ContractFact]
    public async Task ConcurrentUpsertsAndSearches_AreConsistent()
    {
        var store = await NewAsync();
        var points = ContractData.Points(16, 10, Dimension, seed: 19);
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (int i = w * 40; i < (w + 1) * 40; i += 10) await store.UpsertAsync(points[i..(i + 10)]);
        }));
        var readers = Enumerable.Range(0, 2).Select(r => Task.Run(async () =>
        {
            var results = new SearchHit[10];
            for (int i = 0; i < 50; i++)
            {
                int n = await store.SearchAsync(points[(r * 50 + i) % points.Count].Vector, new SearchOptions { Limit = 10 }, results);
                results.AsSpan(0, n).ToArray().Select(h => h.Id).Distinct().Count().ShouldBe(n);
            }
        }));
        await Task.WhenAll(writers.Concat(readers));

        (await store.CountAsync()).ShouldBe(points.Count);
        foreach (var p in points)
        {
            (await SearchAsync(store, p.Vector.ToArray(), new SearchOptions { Limit = 1, Ef = ExactEf }))[0].Id.ShouldBe(p.Id);
        }
    }
}
