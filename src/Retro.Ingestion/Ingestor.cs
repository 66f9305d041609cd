using Retro.Core;
using Retro.Core.Options;
using Retro.Ingestion.Chunking;
using Retro.Ingestion.Pipeline;
using Retro.Ingestion.Reading;
using Retro.Ingestion.State;
using Retro.Ingestion.Telemetry;

namespace Retro.Ingestion;

/// <summary>
/// The one entry point of ingestion: shards of C4-style JSON lines → RETRO chunks counted in the decoder's tokens
/// (<see cref="DocumentChunker"/>) → bi-encoder embeddings → the store, through <see cref="IngestPipeline"/>. It owns
/// what every caller needs around the pipeline: the indexer state in <see cref="StateFolder"/> (documents, and the
/// checkpoints when the store keeps none: <see cref="IndexerState.CheckpointsFor"/>), the rejects file, the
/// <c>Retro.Indexer</c> metrics, and progress reports while a run lasts. The indexer's <c>ingest</c>, the service's
/// first start and the comparison runs' index builds all go through it. Dispose to close the state and the rejects file.
/// </summary>
public sealed class Ingestor : IDisposable
{
    /// <summary>File name of the rejects file inside the state folder, unless another path is given.</summary>
    public const string RejectsFileName = "rejects.jsonl";

    /// <summary>Time between progress reports when the caller names none.</summary>
    public static readonly TimeSpan DefaultProgressInterval = TimeSpan.FromSeconds(2);

    private readonly IVectorStore _store;
    private readonly ITextEncoder _encoder;
    private readonly DocumentChunker _chunker;
    private readonly IngestOptions _options;
    private readonly IndexerState _state;
    private readonly RejectWriter _rejects;

    /// <summary>
    /// Prepares ingestion into <paramref name="store"/> (its collection must exist): chunks are cut from
    /// <paramref name="tokenizer"/>'s tokens (the decoder's, so neighbours are decoder tokens) per <paramref name="chunking"/>
    /// and embedded with <paramref name="encoder"/>. Opens (creating when needed) the state in <paramref name="stateFolder"/>
    /// and the rejects file <paramref name="rejectsPath"/> (default <c>{stateFolder}/rejects.jsonl</c>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> holds a value out of its range.</exception>
    public Ingestor(IVectorStore store, ITextEncoder encoder, ITokenizer tokenizer, ChunkingOptions chunking, string stateFolder,
        IngestOptions? options = null, string? rejectsPath = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
        _chunker = new DocumentChunker(tokenizer, chunking);
        ArgumentException.ThrowIfNullOrEmpty(stateFolder);
        _options = options ?? new IngestOptions();
        _options.Validate();
        _state = new IndexerState(stateFolder);
        try
        {
            _rejects = new RejectWriter(rejectsPath ?? Path.Combine(_state.Folder, RejectsFileName));
        }
        catch
        {
            _state.Dispose();
            throw;
        }
        Checkpoints = _state.CheckpointsFor(store);
    }

    /// <summary>Full path of the state folder.</summary>
    public string StateFolder => _state.Folder;

    /// <summary>The rejects file.</summary>
    public string RejectsPath => _rejects.Path!;

    /// <summary>Where shard checkpoints live: the store's own, else the state's.</summary>
    public IIngestCheckpoints Checkpoints { get; }

    /// <summary>The instruments of the runs (their meter is <see cref="IndexerMetrics.MeterName"/>).</summary>
    internal IndexerMetrics Metrics { get; } = new();

    /// <summary>
    /// Ingests <paramref name="shards"/> (in order; completed ones are skipped, an interrupted one resumes from its
    /// checkpoint) and returns the run's counters. While the run lasts, <paramref name="progress"/> is called with its live
    /// counters every <paramref name="progressInterval"/> (default <see cref="DefaultProgressInterval"/>); not at the end.
    /// Bad records are rejected and counted, never fatal; store failures and cancellation propagate, and what was
    /// committed before stays committed.
    /// </summary>
    public async Task<IngestStats> RunAsync(IReadOnlyList<Shard> shards, Action<IngestStats>? progress = null, TimeSpan? progressInterval = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shards);
        var interval = progressInterval ?? DefaultProgressInterval;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero, nameof(progressInterval));
        var pipeline = new IngestPipeline(_chunker, _encoder, _store, Checkpoints, _state, _options, _rejects, Metrics);
        var run = pipeline.RunAsync(shards, cancellationToken);
        if (progress is not null)
        {
            while (await Task.WhenAny(run, Task.Delay(interval, CancellationToken.None)).ConfigureAwait(false) != run)
                progress(pipeline.Stats); // on this thread: no report lands after the caller's final line
        }
        return await run.ConfigureAwait(false);
    }

    /// <summary>
    /// True when an ingestion of <paramref name="shards"/> into <paramref name="store"/> began and did not finish (a shard
    /// has a checkpoint that is not complete). Reads the checkpoints where <see cref="Ingestor"/> keeps them and creates
    /// nothing: without a state folder and without checkpoints of its own, the store has seen no ingestion.
    /// </summary>
    public static async Task<bool> IsUnfinishedAsync(IVectorStore store, string stateFolder, IEnumerable<Shard> shards, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(stateFolder);
        ArgumentNullException.ThrowIfNull(shards);
        if (store is IIngestCheckpoints own) return await AnyUnfinishedAsync(own, shards, cancellationToken).ConfigureAwait(false);
        if (!Directory.Exists(stateFolder)) return false;
        using var state = new IndexerState(stateFolder);
        return await AnyUnfinishedAsync(state, shards, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<bool> AnyUnfinishedAsync(IIngestCheckpoints checkpoints, IEnumerable<Shard> shards, CancellationToken cancellationToken)
    {
        foreach (var shard in shards)
        {
            var checkpoint = await checkpoints.GetAsync(shard.Key, cancellationToken).ConfigureAwait(false);
            if (checkpoint is { Completed: false }) return true;
        }
        return false;
    }

    /// <summary>Closes the rejects file, the metrics and the state.</summary>
    public void Dispose()
    {
        _rejects.Dispose();
        Metrics.Dispose();
        _state.Dispose();
    }
}
