using System.Net;
using Retro.Core;
using Retro.VectorStore.Qdrant.Rest;
using Retro.VectorStore.Qdrant.Tests.Support;

namespace Retro.VectorStore.Qdrant.Tests;

/// <summary>
/// Client operations against a real Qdrant at <c>QDRANT_URL</c>: skipped unless it is set. Each test uses and then
/// deletes its own uniquely named collections.
/// </summary>
public sealed class LiveQdrantTests
{
    private static QdrantClient Client()
    {
        var handler = new SocketsHttpHandler();
        return new QdrantClient(new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan }, LiveQdrant.Options(), ownsHttp: true);
    }

    [LiveQdrantFact]
    public async Task Server_IsReady()
    {
        using var client = Client();
        (await client.IsReadyAsync()).ShouldBeTrue();
    }

    [LiveQdrantFact]
    public async Task CollectionLifecycle_IndexAliasSnapshot()
    {
        using var client = Client();
        string name = LiveQdrant.UniqueCollection("retro_live");
        string alias = name + "_alias";
        try
        {
            await client.CreateCollectionAsync(name, new CreateCollectionRequest
            {
                Vectors = new VectorParams { Size = 4, Distance = QdrantDistance.Cosine },
                HnswConfig = new HnswConfigDiff { M = 16, EfConstruct = 100 },
                QuantizationConfig = new QuantizationConfig { Scalar = new ScalarQuantizationConfig { Type = "int8", Quantile = 0.99f, AlwaysRam = true } },
            });
            var e = await Should.ThrowAsync<QdrantException>(() => client.CreateCollectionAsync(name, new CreateCollectionRequest { Vectors = new VectorParams { Size = 4, Distance = QdrantDistance.Cosine } }));
            e.Error.ShouldContain("already exists");
            (await client.ListCollectionsAsync()).ShouldContain(name);
            await client.CreatePayloadIndexAsync(name, "document_id", PayloadSchemaType.Keyword);
            var info = await client.GetCollectionAsync(name);
            info.ShouldNotBeNull().Config.Params.Vectors!.Single!.Size.ShouldBe(4ul);
            info.Config.QuantizationConfig.ShouldNotBeNull().Scalar.ShouldNotBeNull();
            info.PayloadSchema.ShouldNotBeNull().ContainsKey("document_id").ShouldBeTrue();

            await client.UpdateAliasesAsync([AliasOperation.Create(alias, name)]);
            (await client.ListCollectionAliasesAsync(name)).ShouldContain(a => a.AliasName == alias);
            (await client.CollectionExistsAsync(alias)).ShouldBeTrue();

            var snapshot = await client.CreateSnapshotAsync(name);
            (await client.ListSnapshotsAsync(name)).ShouldContain(s => s.Name == snapshot.Name);
        }
        finally
        {
            try { await client.UpdateAliasesAsync([AliasOperation.Delete(alias)]); } catch (QdrantException) { }
            await client.DeleteCollectionAsync(name);
        }
        (await client.GetCollectionAsync(name)).ShouldBeNull();
    }

    [LiveQdrantFact]
    public async Task WrongDimension_SurfacesQdrantsError()
    {
        using var client = Client();
        string name = LiveQdrant.UniqueCollection("retro_live");
        try
        {
            await client.CreateCollectionAsync(name, new CreateCollectionRequest { Vectors = new VectorParams { Size = 4, Distance = QdrantDistance.Dot } });
            var e = await Should.ThrowAsync<QdrantException>(() => client.QueryPointsAsync(name, new QueryRequest { Query = new float[3], Limit = 1 }));
            e.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            e.Error.ShouldContain("dimension", Case.Insensitive);
        }
        finally
        {
            await client.DeleteCollectionAsync(name);
        }
    }

    [LiveQdrantFact]
    public async Task Store_Checkpoints_RoundTrip()
    {
        string name = LiveQdrant.UniqueCollection("retro_live");
        await using var store = QdrantVectorStore.Create(LiveQdrant.Options());
        try
        {
            await store.EnsureCollectionAsync(new CollectionSpec { Name = name, Dimension = 4 });
            var checkpoint = new IngestCheckpoint("shard-a", 10, 1024, false, 3, 12, 1, 0);
            await store.SetAsync(checkpoint);
            (await store.GetAsync("shard-a")).ShouldBe(checkpoint);
            (await store.ListAsync()).ShouldBe([checkpoint]);
            (await store.CountAsync()).ShouldBe(0);
        }
        finally
        {
            await store.Client.DeleteCollectionAsync(name);
            await store.Client.DeleteCollectionAsync(name + "__checkpoints");
        }
    }
}
