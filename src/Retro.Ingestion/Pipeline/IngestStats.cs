using System.Diagnostics;
using Retro.Ingestion.Reading;

namespace Retro.Ingestion.Pipeline;

/// <summary>Live counters of one run, updated by the stages and read by progress displays (thread-safe).</summary>
public sealed class IngestStats
{
    private readonly long[] _rejects = new long[RejectReasons.All.Length];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _documents, _chunks, _duplicates, _records, _bytesRead, _embedded, _shardsDone, _shardsSkipped, _skippedChunks;

    /// <summary>Shards to read in this run.</summary>
    public int Shards { get; internal set; }

    /// <summary>Total on-disk bytes of the shards of this run (0 when unknown).</summary>
    public long TotalBytes { get; internal set; }

    /// <summary>Documents whose every chunk was acknowledged by the store.</summary>
    public long Documents => Interlocked.Read(ref _documents);
    /// <summary>Chunks acknowledged by the store.</summary>
    public long Chunks => Interlocked.Read(ref _chunks);
    /// <summary>Chunks not indexed as retrieval keys (too few words: <see cref="Core.Options.ChunkingOptions.MinKeyWords"/>); they stay in their documents' continuations.</summary>
    public long SkippedChunks => Interlocked.Read(ref _skippedChunks);
    /// <summary>Exact-duplicate documents skipped.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);
    /// <summary>Records read (documents, rejects and blank lines).</summary>
    public long Records => Interlocked.Read(ref _records);
    /// <summary>On-disk bytes read so far.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);
    /// <summary>Chunks embedded by the bi-encoder.</summary>
    public long Embedded => Interlocked.Read(ref _embedded);
    /// <summary>Shards finished in this run.</summary>
    public long ShardsDone => Interlocked.Read(ref _shardsDone);
    /// <summary>Shards skipped because a previous run completed them.</summary>
    public long ShardsSkipped => Interlocked.Read(ref _shardsSkipped);
    /// <summary>Total rejects of every kind.</summary>
    public long Rejects { get { long sum = 0; for (int i = 0; i < _rejects.Length; i++) sum += Interlocked.Read(ref _rejects[i]); return sum; } }
    /// <summary>Time since the run started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Rejects of one kind.</summary>
    public long RejectsOf(RejectReason reason) => Interlocked.Read(ref _rejects[(int)reason]);

    internal void AddDocuments(long n) => Interlocked.Add(ref _documents, n);
    internal void AddChunks(long n) => Interlocked.Add(ref _chunks, n);
    internal void AddDuplicate() => Interlocked.Increment(ref _duplicates);
    internal void AddSkippedChunks(long n) => Interlocked.Add(ref _skippedChunks, n);
    internal void AddRecord() => Interlocked.Increment(ref _records);
    internal void AddReject(RejectReason reason) => Interlocked.Increment(ref _rejects[(int)reason]);
    internal void SetBytesRead(long bytes) => Interlocked.Exchange(ref _bytesRead, bytes);
    internal void AddEmbedded(long n) => Interlocked.Add(ref _embedded, n);
    internal void ShardDone() => Interlocked.Increment(ref _shardsDone);
    internal void ShardSkipped() => Interlocked.Increment(ref _shardsSkipped);
}
