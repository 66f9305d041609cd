using Microsoft.Data.Sqlite;
using Retro.Core;
using Retro.Core.Text;
using Retro.VectorStore.Text;

namespace Retro.VectorStore.Payload;

/// <summary>A point as the database lists it on open (no text, no vector).</summary>
internal readonly record struct PointRow(ChunkId Id, uint Offset, string DocumentId, string MetadataJson, long Hash);

/// <summary>A point to write: its chunk, its (normalised) vector, its offset and content hash, its BM25 terms and length.</summary>
internal readonly record struct PointWrite(Chunk Chunk, float[] Vector, uint Offset, long Hash, TermCount[] Terms, int Length);

/// <summary>
/// The SQLite side of the embedded store, the source of truth: points (payload, vector, offset, content hash),
/// the BM25 inverted index (postings: term, offset, term frequency; per offset its length and terms), the collection
/// spec, the committed vector high-water mark, and ingest checkpoints. A point and its postings commit together. WAL with
/// <c>synchronous=FULL</c>: a committed transaction is on disk (survives kill -9 and power loss) when Commit returns.
/// One writer connection (callers serialise writes); reads use pooled connections, concurrent with the writer.
/// This file holds the schema and the connection; the partial files hold one concern each: <c>.Meta</c> (spec and
/// high-water mark), <c>.Points</c> (payloads and vectors, their encoding), <c>.Postings</c> (BM25), <c>.Chunks</c>
/// (reads by id), <c>.Checkpoints</c> (ingest checkpoints).
/// </summary>
internal sealed partial class PayloadDatabase : IDisposable
{
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;

    public PayloadDatabase(string path)
    {
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, Mode = SqliteOpenMode.ReadWriteCreate }.ToString();
        _writer = new SqliteConnection(_connectionString);
        _writer.Open();
        Execute(_writer, "PRAGMA journal_mode=WAL;");
        Execute(_writer, "PRAGMA synchronous=FULL;");
        Execute(_writer, """
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS points(
                id BLOB NOT NULL UNIQUE,
                offset INTEGER NOT NULL UNIQUE,
                document TEXT NOT NULL,
                url TEXT NOT NULL,
                ordinal INTEGER NOT NULL,
                text TEXT NOT NULL,
                tokens BLOB NOT NULL,
                continuation_text TEXT NOT NULL,
                continuation_tokens BLOB NOT NULL,
                metadata TEXT NOT NULL,
                vector BLOB NOT NULL,
                hash INTEGER NOT NULL,
                title TEXT NOT NULL DEFAULT '');
            CREATE INDEX IF NOT EXISTS points_document ON points(document);
            CREATE TABLE IF NOT EXISTS postings(
                term INTEGER NOT NULL,
                offset INTEGER NOT NULL,
                tf INTEGER NOT NULL,
                PRIMARY KEY(term, offset)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS doc_terms(
                offset INTEGER PRIMARY KEY,
                length INTEGER NOT NULL,
                terms BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS checkpoints(
                shard TEXT PRIMARY KEY,
                records INTEGER NOT NULL,
                byte_offset INTEGER NOT NULL,
                completed INTEGER NOT NULL,
                documents INTEGER NOT NULL,
                chunks INTEGER NOT NULL,
                rejected INTEGER NOT NULL,
                duplicates INTEGER NOT NULL);
            """);
        AddTitleColumn();
    }

    /// <summary>Stores made before chunks had titles lack the column: add it (their chunks keep an empty title).</summary>
    private void AddTitleColumn()
    {
        using (var cmd = _writer.CreateCommand())
        {
            cmd.CommandText = "SELECT COUNT(*) FROM pragma_table_info('points') WHERE name = 'title'";
            if ((long)cmd.ExecuteScalar()! > 0) return;
        }
        Execute(_writer, "ALTER TABLE points ADD COLUMN title TEXT NOT NULL DEFAULT '';");
    }

    /// <summary>Whether the database answers a trivial query.</summary>
    public bool Ping()
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT 1";
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 1;
    }

    /// <summary>Folds the WAL back into the database file (cheap compaction).</summary>
    public void Checkpoint() => Execute(_writer, "PRAGMA wal_checkpoint(PASSIVE);");

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public void Dispose()
    {
        _writer.Dispose();
        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }
}
