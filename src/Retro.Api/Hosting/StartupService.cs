using Microsoft.Extensions.Options;
using Retro.Api.Apis.Contracts;
using Retro.Api.Infrastructure;
using Retro.Api.Options;
using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Generation;
using Retro.Ingestion;
using Retro.Ingestion.Pipeline;
using Retro.Ingestion.Reading;
using Retro.Ingestion.State;

namespace Retro.Api.Hosting;

/// <summary>
/// Before the server listens: loads the models (a bad folder stops the start with the loader's message), opens the
/// collection, and on an empty embedded store ingests the bundled sample corpus (<see cref="Ingestor"/>), logging progress. A store that does
/// not answer is logged and left to <c>/health</c>; closed-book questions still work.
/// </summary>
internal sealed partial class StartupService(
    IServiceProvider services,
    IOptions<ServiceOptions> service,
    IOptions<VectorStoreOptions> storeOptions,
    RepositoryPaths paths,
    ILogger<StartupService> logger) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        // Decoding runs synchronously on pool threads and batched steps park their followers: keep one thread per
        // admitted request ready instead of waiting for the pool's slow thread injection.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, service.Value.MaxConcurrentRequests + Environment.ProcessorCount), io);

        var models = services.GetRequiredService<ModelIds>();
        LogModels(logger, models.Encoder, models.Reranker ?? "(none)", models.Decoder);

        var encoder = services.GetRequiredService<ITextEncoder>();
        var store = services.GetRequiredService<IVectorStore>();
        long count;
        try
        {
            await store.EnsureCollectionAsync(storeOptions.Value.ToSpec(encoder.Dimension), cancellationToken);
            count = await store.CountAsync(cancellationToken);
        }
        catch (VectorStoreUnavailableException e)
        {
            LogStoreDown(logger, e.Message);
            return;
        }
        LogStore(logger, storeOptions.Value.Provider, storeOptions.Value.Collection, count);
        if (storeOptions.Value.Provider != VectorStoreProvider.Embedded || !service.Value.IngestSampleWhenEmpty) return;
        string corpus = paths.Resolve(service.Value.SampleCorpus);
        var shards = ShardResolver.Resolve([corpus]);
        // The indexer command's default state folder: an interrupted first start resumes, and indexer stats/verify and
        // later ingest runs see what the service ingested.
        string stateFolder = IndexerState.DefaultFolder(storeOptions.Value, paths.Root);
        // An empty store gets the sample; so does one whose sample ingestion was interrupted (it resumes), never one
        // filled otherwise (e.g. by the indexer command).
        bool resume = count > 0 && File.Exists(corpus) && await Ingestor.IsUnfinishedAsync(store, stateFolder, shards, cancellationToken);
        if (count > 0 && !resume) return;
        if (!File.Exists(corpus))
        {
            LogNoSample(logger, corpus);
            return;
        }
        if (resume) LogResuming(logger, corpus, count);
        else LogIngesting(logger, corpus);
        var started = DateTime.UtcNow;
        // Chunks are counted in the decoder's tokens, so neighbours are decoder tokens.
        var tokenizer = services.GetRequiredService<IRetroDecoder>().Tokenizer;
        using var ingestor = new Ingestor(store, encoder, tokenizer, services.GetRequiredService<IOptions<ChunkingOptions>>().Value, stateFolder,
            new IngestOptions { Parallelism = Math.Max(1, Environment.ProcessorCount) });
        var stats = await ingestor.RunAsync(shards, s => LogProgress(logger, s.Documents, s.Chunks), cancellationToken: cancellationToken);
        LogProgress(logger, stats.Documents, stats.Chunks);
        LogIngested(logger, stats.Chunks, (DateTime.UtcNow - started).TotalSeconds);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Models loaded: encoder {Encoder}, reranker {Reranker}, decoder {Decoder}")]
    private static partial void LogModels(ILogger logger, string encoder, string reranker, string decoder);

    [LoggerMessage(Level = LogLevel.Information, Message = "Vector store {Provider}, collection {Collection}: {Count} chunks")]
    private static partial void LogStore(ILogger logger, VectorStoreProvider provider, string collection, long count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Vector store unavailable at start-up ({Reason}); retrieval answers 503 until it returns, closed-book works")]
    private static partial void LogStoreDown(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The store is empty and the sample corpus {Path} is missing; retrieval will find nothing")]
    private static partial void LogNoSample(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming the interrupted ingestion of the sample corpus {Path} ({Count} chunks already stored)")]
    private static partial void LogResuming(ILogger logger, string path, long count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Empty store: ingesting the sample corpus {Path}")]
    private static partial void LogIngesting(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ingesting: {Documents} documents, {Chunks} chunks")]
    private static partial void LogProgress(ILogger logger, long documents, long chunks);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sample corpus ingested: {Chunks} chunks in {Seconds:F1} s")]
    private static partial void LogIngested(ILogger logger, long chunks, double seconds);
}
