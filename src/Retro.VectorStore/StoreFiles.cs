namespace Retro.VectorStore;

/// <summary>Names of the files of one collection folder (<c>{store}/{collection}/</c>). Frozen: renaming orphans data.</summary>
public static class StoreFiles
{
    /// <summary>SQLite database: points (payload, vector, offset), collection spec, high-water mark, ingest checkpoints. Source of truth.</summary>
    public const string Database = "store.db";

    /// <summary>Memory-mapped float32 vectors by offset (derived from the database, flushed up to its header's high-water mark).</summary>
    public const string Vectors = "vectors.bin";

    /// <summary>Binary HNSW graph (derived; covers the first nodes of the vector file).</summary>
    public const string Graph = "hnsw.bin";

    /// <summary>JSON beside the graph: M, efConstruction, dimension, metric, format version.</summary>
    public const string GraphConfig = "hnsw.json";

    /// <summary>Held open with an exclusive lock while a store has the collection open (one writer per folder).</summary>
    public const string Lock = "LOCK";
}
