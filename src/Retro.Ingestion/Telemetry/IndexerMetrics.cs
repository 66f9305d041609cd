using System.Diagnostics.Metrics;
using Retro.Ingestion.Reading;

namespace Retro.Ingestion.Telemetry;

/// <summary>
/// Instruments of the <c>Retro.Indexer</c> meter: counters of documents, chunks, duplicates, rejects (tag
/// <c>reason</c>) and bytes; histograms of embedding and upsert latency (ms) and batch size.
/// </summary>
public sealed class IndexerMetrics : IDisposable
{
    /// <summary>Meter name, as OpenTelemetry subscribes to it.</summary>
    public const string MeterName = "Retro.Indexer";

    private readonly Meter _meter;
    private readonly Counter<long> _documents, _chunks, _duplicates, _rejects, _bytes, _skipped;
    private readonly Histogram<double> _embedMs, _upsertMs;
    private readonly Histogram<int> _batchSize;

    /// <summary>Creates the instruments (through <paramref name="factory"/> when given).</summary>
    public IndexerMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _documents = _meter.CreateCounter<long>("retro.indexer.documents", "{document}", "Documents committed (all their chunks stored).");
        _chunks = _meter.CreateCounter<long>("retro.indexer.chunks", "{chunk}", "Chunks committed.");
        _duplicates = _meter.CreateCounter<long>("retro.indexer.duplicates", "{document}", "Exact-duplicate documents skipped.");
        _skipped = _meter.CreateCounter<long>("retro.indexer.chunks_skipped", "{chunk}", "Chunks not indexed as retrieval keys (too few words).");
        _rejects = _meter.CreateCounter<long>("retro.indexer.rejects", "{record}", "Records or shards quarantined, by reason.");
        _bytes = _meter.CreateCounter<long>("retro.indexer.bytes_read", "By", "Shard bytes read from disk.");
        _embedMs = _meter.CreateHistogram<double>("retro.indexer.embed.duration", "ms", "Bi-encoder time per batch.");
        _upsertMs = _meter.CreateHistogram<double>("retro.indexer.upsert.duration", "ms", "Store upsert time per batch.");
        _batchSize = _meter.CreateHistogram<int>("retro.indexer.batch.size", "{chunk}", "Chunks per embedding batch.");
    }

    /// <summary>The meter the instruments belong to.</summary>
    internal Meter Meter => _meter;

    internal void Committed(long documents, long chunks)
    {
        if (documents > 0) _documents.Add(documents);
        if (chunks > 0) _chunks.Add(chunks);
    }

    internal void Duplicate() => _duplicates.Add(1);
    internal void SkippedChunks(long n) => _skipped.Add(n);
    internal void Rejected(RejectReason reason) => _rejects.Add(1, new KeyValuePair<string, object?>("reason", RejectReasons.Name(reason)));
    internal void BytesRead(long bytes) { if (bytes > 0) _bytes.Add(bytes); }
    internal void Embedded(int batch, double ms) { _batchSize.Record(batch); _embedMs.Record(ms); }
    internal void Upserted(double ms) => _upsertMs.Record(ms);

    public void Dispose() => _meter.Dispose();
}
