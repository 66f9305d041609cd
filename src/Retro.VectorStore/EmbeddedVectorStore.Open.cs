using Microsoft.Extensions.Logging;
using Retro.Core;
using Retro.Core.Text;
using Retro.VectorStore.Hnsw;
using Retro.VectorStore.Payload;
using Retro.VectorStore.Text;
using Retro.VectorStore.Vectors;

namespace Retro.VectorStore;

/// <summary>What opening a collection found: how much derived state it had to repair.</summary>
/// <param name="Points">Live points.</param>
/// <param name="CommittedOffsets">Vector offsets committed in the database (the high-water mark).</param>
/// <param name="DurableVectors">Vectors the vector file had flushed (its own high-water mark, capped at the committed one).</param>
/// <param name="VectorsReloaded">Vectors copied back from the database into the vector file.</param>
/// <param name="TailVectorsZeroed">Uncommitted vectors found beyond the high-water mark and cleared.</param>
/// <param name="GraphLoaded">Whether the persisted graph was usable.</param>
/// <param name="GraphProblem">Why it was not, else null.</param>
/// <param name="NodesInserted">Nodes (re)inserted into the graph.</param>
/// <param name="TextsIndexed">Points whose text had no postings yet and was analysed on open (a collection from before the text index).</param>
/// <param name="Postings">Postings loaded into the in-memory text index.</param>
internal sealed record OpenReport(long Points, long CommittedOffsets, long DurableVectors, long VectorsReloaded, long TailVectorsZeroed,
    bool GraphLoaded, string? GraphProblem, long NodesInserted, long TextsIndexed, long Postings)
{
    public bool Repaired => VectorsReloaded > 0 || TailVectorsZeroed > 0 || NodesInserted > 0;
}

public sealed partial class EmbeddedVectorStore
{
    /// <summary>The state of the open collection. Mutated by the writer only.</summary>
    private sealed class OpenCollection(CollectionSpec spec, string directory, FileStream folderLock, PayloadDatabase database, VectorStorage vectors, HnswIndex index,
        IdTracker tracker, TextAnalyzer analyzer, InvertedIndex text) : IDisposable
    {
        public TextAnalyzer Analyzer { get; } = analyzer;
        public InvertedIndex Text { get; } = text;
        public CollectionSpec Spec { get; } = spec;
        public string Directory { get; } = directory;
        public PayloadDatabase Database { get; } = database;
        public VectorStorage Vectors { get; } = vectors;
        public HnswIndex Index { get; } = index;
        public IdTracker Tracker { get; } = tracker;

        /// <summary>Next free vector offset (= committed high-water mark).</summary>
        public long NextOffset { get; set; }

        /// <summary>Offsets covered by the last saved graph.</summary>
        public long GraphSavedAt { get; set; }

        public void Dispose()
        {
            Vectors.Dispose();
            Database.Dispose();
            folderLock.Dispose();
        }
    }

    /// <summary>Opens or creates a collection folder and repairs its derived files (see the type's remarks).</summary>
    private OpenCollection Open(CollectionSpec requested)
    {
        string directory = Path.Combine(_root, requested.Name);
        Directory.CreateDirectory(directory);
        var folderLock = LockFolder(directory);
        PayloadDatabase? database = null;
        VectorStorage? vectors = null;
        try
        {
            database = new PayloadDatabase(Path.Combine(directory, StoreFiles.Database));
            var stored = database.ReadSpec();
            if (stored is not null) ThrowIfConflicting(stored, requested);
            // The graph was built with the stored M / efConstruction; Ef and quantization may change between opens, and so
            // may BM25's k1 and b (applied at query time); the text analysis may not.
            var spec = stored is null ? requested : stored with
            {
                Ef = requested.Ef,
                Quantization = requested.Quantization,
                Bm25 = stored.Bm25 with { K1 = requested.Bm25.K1, B = requested.Bm25.B },
            };
            if (spec != stored) database.WriteSpec(spec);

            long committed = database.ReadNextOffset();
            var tracker = new IdTracker();
            foreach (var row in database.ReadPointRows()) tracker.Set(row.Offset, row.Id, row.DocumentId, row.MetadataJson, row.Hash);

            // Text: the postings are committed with the points; only a collection older than the text index lacks some.
            var analyzer = new TextAnalyzer(spec.Bm25);
            long textsIndexed = database.IndexMissingTexts(analyzer);
            var text = new InvertedIndex();
            database.LoadPostings(text);

            // Vectors: trust the file up to its flushed high-water mark, reload the rest from the database.
            vectors = VectorStorage.OpenFile(Path.Combine(directory, StoreFiles.Vectors), spec.Dimension, out _);
            if (vectors.DurableCount > committed) vectors.LowerDurableCount(committed);
            long durable = vectors.DurableCount;
            vectors.EnsureCapacity(committed);
            long zeroed = vectors.ZeroTail(committed);
            long reloaded = 0;
            var v = vectors;
            database.ReadVectorsFrom(durable, (offset, vector) =>
            {
                v.Write(offset, vector);
                reloaded++;
            });

            // Graph: usable only when it needs no vector beyond the durable mark; then insert what it lacks.
            var graph = GraphFile.TryLoad(Path.Combine(directory, StoreFiles.Graph), Path.Combine(directory, StoreFiles.GraphConfig),
                spec.M, spec.EfConstruction, spec.Dimension, spec.Metric, out string? problem);
            if (graph is not null && graph.Count > durable)
            {
                problem = $"graph covers {graph.Count} nodes but only {durable} vectors were flushed";
                graph = null;
            }
            bool loaded = graph is not null;
            graph ??= new HnswGraph(spec.M, spec.EfConstruction, keepPrunedConnections: _options.KeepPrunedConnections);
            for (uint node = 0; node < graph.Count; node++)
            {
                if (!tracker.IsLive(node)) graph.MarkDeleted(node);
            }
            var index = new HnswIndex(vectors, graph, spec.Metric, spec.Quantization == QuantizationKind.Int8);
            long inserted = committed - graph.Count;
            index.Add((uint)graph.Count, (uint)committed, _options.BuildThreads, node => !tracker.IsLive(node));

            var c = new OpenCollection(spec, directory, folderLock, database, vectors, index, tracker, analyzer, text) { NextOffset = committed, GraphSavedAt = loaded ? graph.Count : 0 };
            var report = new OpenReport(tracker.Count, committed, durable, reloaded, zeroed, loaded, problem, inserted, textsIndexed, text.Postings);
            LastOpenReport = report;
            if (report.Repaired || !loaded) SaveDerived(c);
            if (report.Repaired) Log.Repaired(_logger, spec.Name, report.ToString());
            if (textsIndexed > 0) Log.TextsIndexed(_logger, spec.Name, textsIndexed);
            Log.Opened(_logger, spec.Name, tracker.Count, spec.Dimension, spec.Metric);
            return c;
        }
        catch
        {
            vectors?.Dispose();
            database?.Dispose();
            folderLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Takes the folder's exclusive lock (an OS file lock, released by the kernel even on kill -9), so that two store
    /// instances, in this process or another, never write the same collection.
    /// </summary>
    private static FileStream LockFolder(string directory)
    {
        try
        {
            return new FileStream(Path.Combine(directory, StoreFiles.Lock), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"collection folder '{directory}' is open in another store instance", e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Opened collection {Collection}: {Points} points, dimension {Dimension}, {Metric}")]
        public static partial void Opened(ILogger logger, string collection, int points, int dimension, DistanceMetric metric);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Repaired collection {Collection} on open: {Report}")]
        public static partial void Repaired(ILogger logger, string collection, string report);

        [LoggerMessage(Level = LogLevel.Information, Message = "Collection {Collection}: indexed the text of {Points} points that had no BM25 postings")]
        public static partial void TextsIndexed(ILogger logger, string collection, long points);

        [LoggerMessage(Level = LogLevel.Error, Message = "Collection {Collection} faulted while indexing a committed batch")]
        public static partial void Faulted(ILogger logger, string collection, Exception exception);
    }
}
