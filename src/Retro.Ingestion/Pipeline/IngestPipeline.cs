using System.Threading.Channels;
using Retro.Core;
using Retro.Ingestion.Chunking;
using Retro.Ingestion.Reading;
using Retro.Ingestion.State;
using Retro.Ingestion.Telemetry;

namespace Retro.Ingestion.Pipeline;

/// <summary>
/// The ingestion job: reader → (parallel) chunkers → embedding batcher(s) → store writer, joined by bounded channels
/// so memory stays bounded and the bi-encoder always has a full batch waiting. Shards are read one after another in
/// the given order; checkpoints advance only over records whose chunks are all stored (see <see cref="CheckpointCommitter"/>).
/// </summary>
internal sealed class IngestPipeline
{
    private readonly DocumentChunker _chunker;
    private readonly ITextEncoder _encoder;
    private readonly IVectorStore _store;
    private readonly IIngestCheckpoints _checkpoints;
    private readonly IndexerState _state;
    private readonly IngestOptions _options;
    private readonly RejectWriter _rejects;
    private readonly IndexerMetrics _metrics;

    /// <summary>Composes a pipeline; <paramref name="checkpoints"/> is the store's own or <paramref name="state"/>.</summary>
    public IngestPipeline(DocumentChunker chunker, ITextEncoder encoder, IVectorStore store, IIngestCheckpoints checkpoints,
        IndexerState state, IngestOptions options, RejectWriter rejects, IndexerMetrics metrics)
    {
        _chunker = chunker ?? throw new ArgumentNullException(nameof(chunker));
        _encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _checkpoints = checkpoints ?? throw new ArgumentNullException(nameof(checkpoints));
        _state = state ?? throw new ArgumentNullException(nameof(state));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _options.Validate();
        _rejects = rejects ?? throw new ArgumentNullException(nameof(rejects));
        _metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        Stats = new IngestStats();
    }

    /// <summary>Live counters of the run (for progress displays).</summary>
    public IngestStats Stats { get; }

    /// <summary>
    /// Ingests <paramref name="shards"/>. Bad records are rejected and counted, never fatal; store failures and
    /// cancellation propagate (everything committed before stays committed). The collection must already exist.
    /// </summary>
    public async Task<IngestStats> RunAsync(IReadOnlyList<Shard> shards, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shards);
        Stats.Shards = shards.Count;
        long total = 0;
        foreach (var shard in shards) total += shard.Length;
        Stats.TotalBytes = total;

        var registry = new DocumentRegistry(_state);
        var committer = new CheckpointCommitter(_checkpoints, _state, registry, Stats, _metrics);
        int capacity = Math.Max(64, _options.BatchSize * 4);
        var records = Channel.CreateBounded<IngestItem>(new BoundedChannelOptions(capacity) { SingleWriter = true });
        var chunks = Channel.CreateBounded<PendingChunk>(new BoundedChannelOptions(_options.BatchSize * 2 * _options.EmbedConcurrency));
        var embedded = Channel.CreateBounded<EmbeddedBatch>(new BoundedChannelOptions(2) { SingleReader = true });

        using var failure = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ct = failure.Token;

        Task Stage(Func<Task> body, Action complete) => Task.Run(async () =>
        {
            try { await body().ConfigureAwait(false); }
            catch { failure.Cancel(); throw; }
            finally { complete(); }
        }, CancellationToken.None);

        var reader = Stage(() => ReadAsync(shards, registry, committer, records.Writer, ct), () => records.Writer.TryComplete());
        var chunkers = new Task[_options.Parallelism];
        for (int i = 0; i < chunkers.Length; i++) chunkers[i] = Stage(() => ChunkAsync(records.Reader, chunks.Writer, ct), () => { });
        var chunkersDone = Task.WhenAll(chunkers).ContinueWith(_ => chunks.Writer.TryComplete(), TaskScheduler.Default);
        var batchers = new Task[_options.EmbedConcurrency];
        var batcher = new EmbeddingBatcher(_encoder, _options.BatchSize, Stats, _metrics);
        for (int i = 0; i < batchers.Length; i++) batchers[i] = Stage(() => batcher.RunAsync(chunks.Reader, embedded.Writer, ct), () => { });
        var batchersDone = Task.WhenAll(batchers).ContinueWith(_ => embedded.Writer.TryComplete(), TaskScheduler.Default);
        var writer = Stage(() => new StoreWriter(_store, committer, Stats, _metrics).RunAsync(embedded.Reader, ct), () => { });

        var all = Task.WhenAll([reader, .. chunkers, .. batchers, writer, chunkersDone, batchersDone]);
        try
        {
            await all.ConfigureAwait(false);
        }
        catch
        {
            // Report the root cause, not the cancellations it caused in the other stages.
            var errors = new[] { reader, writer }.Concat(chunkers).Concat(batchers)
                .Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions)
                .Where(e => e is not OperationCanceledException).ToList();
            if (errors.Count > 0 && !cancellationToken.IsCancellationRequested) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(errors[0]); // keeps its stack
            cancellationToken.ThrowIfCancellationRequested();
            throw;
        }
        // Everything was acknowledged: commit what is left (trailing rejects, duplicates, ends of shards).
        await committer.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (committer.InFlight != 0) throw new InvalidOperationException($"{committer.InFlight} records were never acknowledged; this is a bug.");
        await _store.FlushAsync(cancellationToken).ConfigureAwait(false);
        return Stats;
    }

    private async Task ReadAsync(IReadOnlyList<Shard> shards, DocumentRegistry registry, CheckpointCommitter committer, ChannelWriter<IngestItem> output, CancellationToken ct)
    {
        var jsonl = new JsonlReader(_options.MaxDocumentBytes);
        long bytesBefore = 0;
        foreach (var shard in shards)
        {
            var start = await _checkpoints.GetAsync(shard.Key, ct).ConfigureAwait(false)
                ?? new IngestCheckpoint(shard.Key, 0, 0, false, 0, 0, 0, 0);
            if (start.Completed)
            {
                Stats.ShardSkipped();
                bytesBefore += shard.Length;
                Stats.SetBytesRead(bytesBefore);
                continue;
            }
            var progress = new ShardProgress(shard, start);
            ShardRecord? last = null;
            long lastBytes = 0;
            foreach (var record in jsonl.Read(shard, start.Records, start.ByteOffset, ct))
            {
                if (last is not null) await SendAsync(Item(last, progress, registry, endOfShard: false), committer, output, ct).ConfigureAwait(false);
                last = record;
                long fileBytes = jsonl.FileBytesRead;
                _metrics.BytesRead(fileBytes - lastBytes);
                lastBytes = fileBytes;
                Stats.SetBytesRead(bytesBefore + fileBytes);
            }
            // The last record carries the end of the shard; an empty remainder still needs a completing item.
            last ??= new ShardRecord(start.Records, start.ByteOffset, start.Records, start.ByteOffset, null, null);
            await SendAsync(Item(last, progress, registry, endOfShard: true), committer, output, ct).ConfigureAwait(false);
            bytesBefore += shard.Length;
            Stats.SetBytesRead(bytesBefore);
            Stats.ShardDone();
        }
    }

    private IngestItem Item(ShardRecord record, ShardProgress shard, DocumentRegistry registry, bool endOfShard)
    {
        if (record.Reject is { } reject)
        {
            Stats.AddReject(reject.Reason);
            _metrics.Rejected(reject.Reason);
            _rejects.Write(shard.Shard.Path, record.Line, record.Offset, reject);
            return new IngestItem { Shard = shard, Record = record, EndOfShard = endOfShard };
        }
        if (record.Document is not { } document) return new IngestItem { Shard = shard, Record = record, EndOfShard = endOfShard };
        var (id, hash, duplicate) = registry.Claim(document, shard.Shard.Key, record.Records);
        if (duplicate)
        {
            Stats.AddDuplicate();
            _metrics.Duplicate();
            return new IngestItem { Shard = shard, Record = record, EndOfShard = endOfShard, Duplicate = true };
        }
        return new IngestItem { Shard = shard, Record = record, EndOfShard = endOfShard, Document = document, DocumentId = id, TextHash = hash };
    }

    private async ValueTask SendAsync(IngestItem item, CheckpointCommitter committer, ChannelWriter<IngestItem> output, CancellationToken ct)
    {
        Stats.AddRecord();
        committer.Enter(item);
        await output.WriteAsync(item, ct).ConfigureAwait(false);
    }

    private async Task ChunkAsync(ChannelReader<IngestItem> input, ChannelWriter<PendingChunk> output, CancellationToken ct)
    {
        await foreach (var item in input.ReadAllAsync(ct).ConfigureAwait(false))
        {
            if (item.Document is { } document)
            {
                var list = _chunker.Chunk(item.DocumentId!, document.Url, document.Text, document.Metadata, out int[] skipped);
                if (skipped.Length > 0)
                {
                    Stats.AddSkippedChunks(skipped.Length);
                    _metrics.SkippedChunks(skipped.Length);
                }
                item.AddChunks(list.Count, skipped);
                foreach (var chunk in list) await output.WriteAsync(new PendingChunk(item, chunk), ct).ConfigureAwait(false);
            }
            item.Complete();
        }
    }
}
