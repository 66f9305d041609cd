using Microsoft.Extensions.Options;
using Retro.Api.Infrastructure;
using Retro.Core;
using Retro.Engine.Generation;
using Retro.Indexer.Chunking;
using Retro.Indexer.Pipeline;
using Retro.Indexer.Reading;
using Retro.Indexer.State;
using Retro.Indexer.Telemetry;

namespace Retro.Api.Hosting;

/// <summary>
/// <see cref="ICorpusIngestor"/> over the indexer's pipeline: chunks with the decoder's tokenizer (so neighbours are
/// decoder tokens), embeds with the bi-encoder, writes to the store; indexer state (checkpoints, rejects) lives in
/// the indexer command's default folder (<see cref="IndexerState.DefaultFolder"/>), so an interrupted first start
/// resumes, and <c>indexer stats</c>/<c>verify</c> and later <c>ingest</c> runs see what the service ingested.
/// </summary>
internal sealed class IndexerCorpusIngestor(
    IRetroDecoder decoder, IOptions<ChunkingOptions> chunking, IOptions<VectorStoreOptions> store, RepositoryPaths paths) : ICorpusIngestor
{
    public async Task<long> IngestAsync(string corpusPath, ITextEncoder encoder, IVectorStore target, IProgress<(long Documents, long Chunks)> progress, CancellationToken cancellationToken)
    {
        string stateFolder = IndexerState.DefaultFolder(store.Value, paths.Root);
        Directory.CreateDirectory(stateFolder);
        var shards = ShardResolver.Resolve([corpusPath]);
        using var metrics = new IndexerMetrics();
        using var state = new IndexerState(stateFolder);
        using var rejects = new RejectWriter(Path.Combine(stateFolder, "rejects.jsonl"));
        var options = new IngestOptions { Parallelism = Math.Max(1, Environment.ProcessorCount) };
        var pipeline = new IngestPipeline(new DocumentChunker(decoder.Tokenizer, chunking.Value), encoder, target,
            target as IIngestCheckpoints ?? state, state, options, rejects, metrics);

        var run = pipeline.RunAsync(shards, cancellationToken);
        while (await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(2), cancellationToken)) != run)
            progress.Report((pipeline.Stats.Documents, pipeline.Stats.Chunks));
        var stats = await run;
        await target.FlushAsync(cancellationToken);
        progress.Report((stats.Documents, stats.Chunks));
        return stats.Chunks;
    }

    public async Task<bool> IsUnfinishedAsync(string corpusPath, IVectorStore target, CancellationToken cancellationToken)
    {
        string stateFolder = IndexerState.DefaultFolder(store.Value, paths.Root);
        if (target is not IIngestCheckpoints && !Directory.Exists(stateFolder)) return false;
        using var state = target is IIngestCheckpoints ? null : new IndexerState(stateFolder);
        var checkpoints = target as IIngestCheckpoints ?? state!;
        foreach (var shard in ShardResolver.Resolve([corpusPath]))
        {
            var checkpoint = await checkpoints.GetAsync(shard.Key, cancellationToken).ConfigureAwait(false);
            if (checkpoint is { Completed: false }) return true;
        }
        return false;
    }
}
