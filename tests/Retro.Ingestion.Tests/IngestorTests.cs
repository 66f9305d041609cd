using Retro.Core;
using Retro.Core.Options;
using Retro.Ingestion.Pipeline;
using Retro.Ingestion.Reading;
using Retro.Ingestion.State;
using Retro.Tokenizers;

namespace Retro.Ingestion.Tests;

/// <summary>The entry point's own duties: where checkpoints and rejects go, unfinished runs, progress while it runs.</summary>
public sealed class IngestorTests : FolderTests
{
    private Ingestor Create(IVectorStore store, ITextEncoder? encoder = null) =>
        new(store, encoder ?? new HashEncoder(), TestFiles.DecoderTokenizer, new ChunkingOptions(), Dir["state"], new IngestOptions { BatchSize = 4, Parallelism = 2 });

    [Fact]
    public async Task A_store_without_checkpoints_gets_them_in_the_state_and_rejects_go_beside_it()
    {
        var shards = ShardResolver.Resolve([TestFiles.WriteLines(Dir["in/a.jsonl"], [.. TestFiles.SampleLines(12), "{broken"])]);
        var inner = new MemoryStore();
        var store = new WithoutCheckpoints(inner);
        using (var ingestor = Create(store))
        {
            ingestor.Checkpoints.ShouldBeOfType<IndexerState>();
            ingestor.RejectsPath.ShouldBe(Path.Combine(Dir["state"], Ingestor.RejectsFileName));
            var stats = await ingestor.RunAsync(shards);
            stats.Documents.ShouldBe(12);
            stats.Rejects.ShouldBe(1);
            File.ReadAllLines(ingestor.RejectsPath).Length.ShouldBe(1);
        }
        (await inner.ListAsync()).ShouldBeEmpty(); // nothing in the store's own table
        using (var state = new IndexerState(Dir["state"]))
        {
            var checkpoint = (await state.ListAsync()).ShouldHaveSingleItem();
            checkpoint.Completed.ShouldBeTrue();
            checkpoint.Documents.ShouldBe(12);
        }
        (await Ingestor.IsUnfinishedAsync(store, Dir["state"], shards)).ShouldBeFalse();
    }

    [Fact]
    public async Task An_interrupted_run_is_unfinished_wherever_its_checkpoints_are()
    {
        var shards = ShardResolver.Resolve([TestFiles.WriteLines(Dir["in/a.jsonl"], TestFiles.SampleLines(60))]);
        var own = new MemoryStore { FailAfterUpserts = 2 };
        var plain = new WithoutCheckpoints(new MemoryStore { FailAfterUpserts = 2 });
        foreach (IVectorStore store in new IVectorStore[] { own, plain })
        {
            using (var ingestor = Create(store))
                await Should.ThrowAsync<VectorStoreUnavailableException>(() => ingestor.RunAsync(shards));
            (await Ingestor.IsUnfinishedAsync(store, Dir["state"], shards)).ShouldBeTrue(store.GetType().Name);
            Directory.Delete(Dir["state"], recursive: true);
        }
        // No state folder and no checkpoints of its own: nothing was ever ingested, and nothing is created by asking.
        (await Ingestor.IsUnfinishedAsync(plain, Dir["state"], shards)).ShouldBeFalse();
        Directory.Exists(Dir["state"]).ShouldBeFalse();
    }

    [Fact]
    public async Task Progress_sees_the_live_counters_while_the_run_lasts()
    {
        var shards = ShardResolver.Resolve([TestFiles.WriteLines(Dir["in/a.jsonl"], TestFiles.SampleLines(40))]);
        var seen = new List<long>();
        using var ingestor = Create(new MemoryStore(), new SlowEncoder(new HashEncoder(), TimeSpan.FromMilliseconds(20)));
        var stats = await ingestor.RunAsync(shards, s => seen.Add(s.Chunks), TimeSpan.FromMilliseconds(5));
        seen.ShouldNotBeEmpty();
        seen.ShouldBe(seen.Order().ToList()); // counters only grow
        seen[^1].ShouldBeLessThanOrEqualTo(stats.Chunks);
        await Should.ThrowAsync<ArgumentOutOfRangeException>(() => ingestor.RunAsync(shards, _ => { }, TimeSpan.Zero));
    }

    /// <summary>A store that keeps no checkpoints of its own (as a plain <see cref="IVectorStore"/>).</summary>
    private sealed class WithoutCheckpoints(MemoryStore inner) : IVectorStore
    {
        public CollectionSpec Collection => inner.Collection;
        public ValueTask EnsureCollectionAsync(CollectionSpec spec, CancellationToken cancellationToken = default) => inner.EnsureCollectionAsync(spec, cancellationToken);
        public ValueTask UpsertAsync(IReadOnlyList<VectorPoint> points, CancellationToken cancellationToken = default) => inner.UpsertAsync(points, cancellationToken);
        public ValueTask<IReadOnlyList<Chunk?>> GetChunksAsync(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken = default) => inner.GetChunksAsync(ids, cancellationToken);
        public ValueTask<int> SearchAsync(ReadOnlyMemory<float> query, SearchOptions options, Memory<SearchHit> results, CancellationToken cancellationToken = default)
            => inner.SearchAsync(query, options, results, cancellationToken);
        public ValueTask<long> CountAsync(CancellationToken cancellationToken = default) => inner.CountAsync(cancellationToken);
        public ValueTask<long> DeleteDocumentAsync(string documentId, CancellationToken cancellationToken = default) => inner.DeleteDocumentAsync(documentId, cancellationToken);
        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
        public ValueTask<bool> IsHealthyAsync(CancellationToken cancellationToken = default) => inner.IsHealthyAsync(cancellationToken);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>An encoder that takes its time, so a run lasts long enough to be watched.</summary>
    private sealed class SlowEncoder(ITextEncoder inner, TimeSpan delay) : ITextEncoder
    {
        public int Dimension => inner.Dimension;
        public string ModelId => inner.ModelId;
        public void Encode(ReadOnlySpan<string> texts, Span<float> destination)
        {
            Thread.Sleep(delay);
            inner.Encode(texts, destination);
        }
    }
}
