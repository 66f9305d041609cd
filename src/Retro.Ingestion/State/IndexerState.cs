using Microsoft.Data.Sqlite;
using Retro.Core;
using Retro.Core.Options;

namespace Retro.Ingestion.State;

/// <summary>
/// The indexer's own durable state, a SQLite file: every ingested document (text hash, identity, shard position and
/// chunk count), used to skip exact duplicates across runs, to tell a replay after a crash from a duplicate, and to
/// enumerate stored chunk ids for <c>verify</c>; and per-shard checkpoints for stores that keep none themselves.
/// Reads (the reader stage) and writes (the committer) use separate connections; each is used by one thread.
/// </summary>
public sealed class IndexerState : IIngestCheckpoints, IDisposable
{
    /// <summary>File name of the state database inside the state folder.</summary>
    public const string FileName = "indexer.db";

    /// <summary>Schema version stored in <c>PRAGMA user_version</c> (2: documents record their skipped ordinals; 1 is upgraded in place).</summary>
    public const int SchemaVersion = 2;

    private readonly SqliteConnection _read;
    private readonly SqliteConnection _write;
    private readonly Lock _readLock = new();
    private readonly Lock _writeLock = new();

    /// <summary>Opens (creating when needed) the state in <paramref name="folder"/>.</summary>
    public IndexerState(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        Folder = Path.GetFullPath(folder);
        string cs = new SqliteConnectionStringBuilder { DataSource = Path.Combine(Folder, FileName), Pooling = false }.ToString();
        _write = new SqliteConnection(cs);
        _write.Open();
        Execute(_write, """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS documents (
                document_id TEXT PRIMARY KEY,
                text_hash   BLOB NOT NULL UNIQUE,
                shard_key   TEXT NOT NULL,
                record      INTEGER NOT NULL,
                chunks      INTEGER NOT NULL,
                skipped     TEXT NOT NULL DEFAULT '');
            CREATE TABLE IF NOT EXISTS checkpoints (
                shard_key   TEXT PRIMARY KEY,
                records     INTEGER NOT NULL,
                byte_offset INTEGER NOT NULL,
                completed   INTEGER NOT NULL,
                documents   INTEGER NOT NULL,
                chunks      INTEGER NOT NULL,
                rejected    INTEGER NOT NULL,
                duplicates  INTEGER NOT NULL);
            """);
        long version = (long)Scalar(_write, "PRAGMA user_version")!;
        if (version == 1)
        {
            // Version 1 stored every chunk of a document: no ordinal was skipped.
            Execute(_write, "ALTER TABLE documents ADD COLUMN skipped TEXT NOT NULL DEFAULT ''");
            version = 0;
        }
        if (version == 0) Execute(_write, $"PRAGMA user_version = {SchemaVersion}");
        else if (version != SchemaVersion)
            throw new InvalidOperationException($"Indexer state {Path.Combine(Folder, FileName)} has schema {version}, this build reads {SchemaVersion}; ingest into a new store.");
        _read = new SqliteConnection(cs);
        _read.Open();
    }

    /// <summary>
    /// The state folder the indexer uses for a store unless told otherwise: inside the embedded collection's folder
    /// (<c>{Path}/{Collection}/indexer</c>), or <c>data/indexer/{Collection}</c> for a remote store. Relative paths
    /// are relative to <paramref name="baseFolder"/> (default: the current folder), so the service, which resolves
    /// paths against the repository root, and the command line share one state per store.
    /// </summary>
    public static string DefaultFolder(VectorStoreOptions store, string? baseFolder = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        string relative = store.Provider == VectorStoreProvider.Embedded
            ? Path.Combine(store.Path, store.Collection, "indexer")
            : Path.Combine("data", "indexer", store.Collection);
        return baseFolder is null ? Path.GetFullPath(relative) : Path.GetFullPath(relative, Path.GetFullPath(baseFolder));
    }

    /// <summary>Full path of the state folder.</summary>
    public string Folder { get; }

    /// <summary>Where an ingestion into <paramref name="store"/> keeps its shard checkpoints: the store's own, else this state's.</summary>
    public IIngestCheckpoints CheckpointsFor(IVectorStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store as IIngestCheckpoints ?? this;
    }

    /// <summary>The stored document with text hash <paramref name="hash"/> (32-byte SHA-256), or null.</summary>
    public DocumentRow? FindByHash(byte[] hash)
    {
        lock (_readLock)
        {
            using var cmd = _read.CreateCommand();
            cmd.CommandText = $"SELECT {Columns} FROM documents WHERE text_hash = $h";
            cmd.Parameters.AddWithValue("$h", hash);
            return ReadOne(cmd);
        }
    }

    /// <summary>The stored document with identity <paramref name="documentId"/>, or null.</summary>
    public DocumentRow? FindById(string documentId)
    {
        lock (_readLock)
        {
            using var cmd = _read.CreateCommand();
            cmd.CommandText = $"SELECT {Columns} FROM documents WHERE document_id = $d";
            cmd.Parameters.AddWithValue("$d", documentId);
            return ReadOne(cmd);
        }
    }

    /// <summary>Durably records ingested documents (one transaction; rows already present are kept).</summary>
    public void AddDocuments(IReadOnlyList<DocumentRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) return;
        lock (_writeLock)
        {
            using var tx = _write.BeginTransaction();
            using var cmd = _write.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = $"INSERT OR IGNORE INTO documents({Columns}) VALUES ($d, $h, $s, $r, $c, $k)";
            var d = cmd.Parameters.Add("$d", SqliteType.Text);
            var h = cmd.Parameters.Add("$h", SqliteType.Blob);
            var s = cmd.Parameters.Add("$s", SqliteType.Text);
            var r = cmd.Parameters.Add("$r", SqliteType.Integer);
            var c = cmd.Parameters.Add("$c", SqliteType.Integer);
            var k = cmd.Parameters.Add("$k", SqliteType.Text);
            foreach (var row in rows)
            {
                d.Value = row.DocumentId; h.Value = row.TextHash; s.Value = row.ShardKey; r.Value = row.Record; c.Value = row.Chunks;
                k.Value = string.Join(',', row.Skipped);
                cmd.ExecuteNonQuery();
            }
            tx.Commit();
        }
    }

    /// <summary>Number of documents recorded.</summary>
    public long CountDocuments()
    {
        lock (_readLock) return (long)Scalar(_read, "SELECT COUNT(*) FROM documents")!;
    }

    /// <summary>Sum of the chunk counts of all recorded documents.</summary>
    public long CountChunks()
    {
        lock (_readLock) return (long)Scalar(_read, "SELECT COALESCE(SUM(chunks), 0) FROM documents")!;
    }

    /// <summary>Every recorded document, ordered by identity, read in pages of <paramref name="pageSize"/> rows (constant memory).</summary>
    public IEnumerable<DocumentRow> Documents(int pageSize = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        string? after = null;
        while (true)
        {
            var page = new List<DocumentRow>(pageSize);
            lock (_readLock)
            {
                using var cmd = _read.CreateCommand();
                cmd.CommandText = after is null
                    ? $"SELECT {Columns} FROM documents ORDER BY document_id LIMIT $n"
                    : $"SELECT {Columns} FROM documents WHERE document_id > $a ORDER BY document_id LIMIT $n";
                cmd.Parameters.AddWithValue("$n", pageSize);
                if (after is not null) cmd.Parameters.AddWithValue("$a", after);
                using var reader = cmd.ExecuteReader();
                while (reader.Read()) page.Add(Row(reader));
            }
            foreach (var row in page) yield return row;
            if (page.Count < pageSize) yield break;
            after = page[^1].DocumentId;
        }
    }

    public ValueTask<IngestCheckpoint?> GetAsync(string shardKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shardKey);
        lock (_readLock)
        {
            using var cmd = _read.CreateCommand();
            cmd.CommandText = "SELECT * FROM checkpoints WHERE shard_key = $k";
            cmd.Parameters.AddWithValue("$k", shardKey);
            using var reader = cmd.ExecuteReader();
            return ValueTask.FromResult(reader.Read() ? Checkpoint(reader) : null);
        }
    }

    public ValueTask SetAsync(IngestCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        lock (_writeLock)
        {
            using var cmd = _write.CreateCommand();
            cmd.CommandText = "INSERT OR REPLACE INTO checkpoints VALUES ($k, $r, $o, $c, $d, $n, $j, $u)";
            cmd.Parameters.AddWithValue("$k", checkpoint.ShardKey);
            cmd.Parameters.AddWithValue("$r", checkpoint.Records);
            cmd.Parameters.AddWithValue("$o", checkpoint.ByteOffset);
            cmd.Parameters.AddWithValue("$c", checkpoint.Completed ? 1 : 0);
            cmd.Parameters.AddWithValue("$d", checkpoint.Documents);
            cmd.Parameters.AddWithValue("$n", checkpoint.Chunks);
            cmd.Parameters.AddWithValue("$j", checkpoint.Rejected);
            cmd.Parameters.AddWithValue("$u", checkpoint.Duplicates);
            cmd.ExecuteNonQuery();
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<IngestCheckpoint>> ListAsync(CancellationToken cancellationToken = default)
    {
        lock (_readLock)
        {
            using var cmd = _read.CreateCommand();
            cmd.CommandText = "SELECT * FROM checkpoints ORDER BY shard_key";
            using var reader = cmd.ExecuteReader();
            var list = new List<IngestCheckpoint>();
            while (reader.Read()) list.Add(Checkpoint(reader));
            return ValueTask.FromResult<IReadOnlyList<IngestCheckpoint>>(list);
        }
    }

    private static IngestCheckpoint Checkpoint(SqliteDataReader r) => new(
        r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3) != 0, r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7));

    private static DocumentRow? ReadOne(SqliteCommand cmd)
    {
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? Row(reader) : null;
    }

    private const string Columns = "document_id, text_hash, shard_key, record, chunks, skipped";

    private static DocumentRow Row(SqliteDataReader r)
    {
        string skipped = r.GetString(5);
        return new(r.GetString(0), (byte[])r.GetValue(1), r.GetString(2), r.GetInt64(3), r.GetInt32(4))
        {
            Skipped = skipped.Length == 0 ? [] : Array.ConvertAll(skipped.Split(','), s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)),
        };
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    public void Dispose()
    {
        _read.Dispose();
        _write.Dispose();
    }
}

/// <summary>An ingested document as the state records it.</summary>
/// <param name="DocumentId">Identity (url, url plus hash when the url was taken by another text, or <c>sha256:</c> hash).</param>
/// <param name="TextHash">SHA-256 of the UTF-8 text (32 bytes).</param>
/// <param name="ShardKey">Shard it was first read from.</param>
/// <param name="Record">1-based record number in that shard.</param>
/// <param name="Chunks">Number of chunks stored: ordinals 0..Chunks+Skipped.Count-1 except <see cref="Skipped"/>.</param>
public sealed record DocumentRow(string DocumentId, byte[] TextHash, string ShardKey, long Record, int Chunks)
{
    /// <summary>Ordinals of the document's chunks that were not indexed (too few words), ascending.</summary>
    public IReadOnlyList<int> Skipped { get; init; } = [];

    /// <summary>Chunks of the document's token stream, stored or skipped.</summary>
    public int Ordinals => Chunks + Skipped.Count;

    /// <summary>The ordinals of the stored chunks, ascending.</summary>
    public IEnumerable<int> StoredOrdinals()
    {
        for (int o = 0, s = 0; o < Ordinals; o++)
        {
            if (s < Skipped.Count && Skipped[s] == o) { s++; continue; }
            yield return o;
        }
    }
}
