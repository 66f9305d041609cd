using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Retro.Core;
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
/// </summary>
internal sealed class PayloadDatabase : IDisposable
{
    private const string SpecKey = "spec";
    private const string NextOffsetKey = "next_offset";

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

    // ---------------------------------------------------------------- collection meta

    /// <summary>The stored spec, or null for a new database.</summary>
    public CollectionSpec? ReadSpec()
    {
        string? json = ReadMeta(SpecKey);
        return json is null ? null : JsonSerializer.Deserialize<CollectionSpec>(json, JsonOptions);
    }

    /// <summary>Stores the spec (durably).</summary>
    public void WriteSpec(CollectionSpec spec) => WriteMeta(SpecKey, JsonSerializer.Serialize(spec, JsonOptions));

    /// <summary>Offsets below this were committed (the vector high-water mark).</summary>
    public long ReadNextOffset() => long.TryParse(ReadMeta(NextOffsetKey), out long n) ? n : 0;

    // ---------------------------------------------------------------- points

    /// <summary>Every point's id, offset, document, metadata JSON and hash (for the in-memory index on open).</summary>
    public List<PointRow> ReadPointRows()
    {
        var rows = new List<PointRow>();
        using var cmd = _writer.CreateCommand();
        cmd.CommandText = "SELECT id, offset, document, metadata, hash FROM points ORDER BY offset";
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            rows.Add(new PointRow(IdOf((byte[])reader[0]), (uint)reader.GetInt64(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4)));
        }
        return rows;
    }

    /// <summary>Calls <paramref name="visit"/> with (offset, vector) of every point at or above <paramref name="fromOffset"/>.</summary>
    public void ReadVectorsFrom(long fromOffset, Action<uint, ReadOnlySpan<float>> visit)
    {
        using var cmd = _writer.CreateCommand();
        cmd.CommandText = "SELECT offset, vector FROM points WHERE offset >= $from ORDER BY offset";
        cmd.Parameters.AddWithValue("$from", fromOffset);
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            var bytes = (byte[])reader[1];
            visit((uint)reader.GetInt64(0), MemoryMarshal.Cast<byte, float>(bytes));
        }
    }

    /// <summary>
    /// In one durable transaction: inserts or replaces <paramref name="points"/> (by id) with their postings and sets the
    /// high-water mark to <paramref name="nextOffset"/>; returns the terms of the replaced points (their postings are
    /// gone). Nothing is written when it throws.
    /// </summary>
    public List<DocumentTerms> Upsert(IReadOnlyList<PointWrite> points, long nextOffset)
    {
        var removed = new List<DocumentTerms>();
        using var tx = _writer.BeginTransaction();
        using var text = new PostingWriter(_writer, tx);
        using (var cmd = _writer.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = """
                INSERT INTO points(id, offset, document, url, ordinal, text, tokens, continuation_text, continuation_tokens, metadata, vector, hash, title)
                VALUES($id, $offset, $document, $url, $ordinal, $text, $tokens, $ctext, $ctokens, $metadata, $vector, $hash, $title)
                ON CONFLICT(id) DO UPDATE SET offset = excluded.offset, document = excluded.document, url = excluded.url,
                    ordinal = excluded.ordinal, text = excluded.text, tokens = excluded.tokens, continuation_text = excluded.continuation_text,
                    continuation_tokens = excluded.continuation_tokens, metadata = excluded.metadata, vector = excluded.vector, hash = excluded.hash,
                    title = excluded.title
                """;
            var pId = cmd.Parameters.Add("$id", SqliteType.Blob);
            var pOffset = cmd.Parameters.Add("$offset", SqliteType.Integer);
            var pDocument = cmd.Parameters.Add("$document", SqliteType.Text);
            var pUrl = cmd.Parameters.Add("$url", SqliteType.Text);
            var pOrdinal = cmd.Parameters.Add("$ordinal", SqliteType.Integer);
            var pText = cmd.Parameters.Add("$text", SqliteType.Text);
            var pTokens = cmd.Parameters.Add("$tokens", SqliteType.Blob);
            var pCText = cmd.Parameters.Add("$ctext", SqliteType.Text);
            var pCTokens = cmd.Parameters.Add("$ctokens", SqliteType.Blob);
            var pMetadata = cmd.Parameters.Add("$metadata", SqliteType.Text);
            var pVector = cmd.Parameters.Add("$vector", SqliteType.Blob);
            var pHash = cmd.Parameters.Add("$hash", SqliteType.Integer);
            var pTitle = cmd.Parameters.Add("$title", SqliteType.Text);
            cmd.Prepare();
            foreach (var p in points)
            {
                var c = p.Chunk;
                if (text.RemoveById(IdBytes(c.Id)) is { } old) removed.Add(old);
                text.Add(new DocumentTerms(p.Offset, p.Terms, p.Length));
                pId.Value = IdBytes(c.Id);
                pOffset.Value = (long)p.Offset;
                pDocument.Value = c.DocumentId;
                pUrl.Value = c.Url;
                pOrdinal.Value = c.Ordinal;
                pText.Value = c.Text;
                pTokens.Value = MemoryMarshal.AsBytes(c.Tokens.AsSpan()).ToArray();
                pCText.Value = c.ContinuationText;
                pCTokens.Value = MemoryMarshal.AsBytes(c.ContinuationTokens.AsSpan()).ToArray();
                pMetadata.Value = MetadataJson(c.Metadata);
                pVector.Value = MemoryMarshal.AsBytes(p.Vector.AsSpan()).ToArray();
                pHash.Value = p.Hash;
                pTitle.Value = c.Title;
                cmd.ExecuteNonQuery();
            }
        }
        WriteMeta(NextOffsetKey, nextOffset.ToString(System.Globalization.CultureInfo.InvariantCulture), tx);
        tx.Commit();
        return removed;
    }

    /// <summary>Deletes a document's points and their postings in one durable transaction; returns their offsets and the removed terms.</summary>
    public List<uint> DeleteDocument(string documentId, out List<DocumentTerms> removed)
    {
        var offsets = new List<uint>();
        removed = [];
        using var tx = _writer.BeginTransaction();
        using (var cmd = _writer.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "DELETE FROM points WHERE document = $document RETURNING offset";
            cmd.Parameters.AddWithValue("$document", documentId);
            using var reader = cmd.ExecuteReader();
            while (reader.Read()) offsets.Add((uint)reader.GetInt64(0));
        }
        using (var text = new PostingWriter(_writer, tx))
        {
            foreach (uint offset in offsets)
            {
                if (text.RemoveByOffset(offset) is { } old) removed.Add(old);
            }
        }
        tx.Commit();
        return offsets;
    }

    // ---------------------------------------------------------------- BM25 postings

    /// <summary>
    /// Indexes, in one durable transaction, the text of every point that has no postings yet (a collection written
    /// before the text index existed); returns how many. Analysis happens outside SQLite.
    /// </summary>
    public int IndexMissingTexts(TextAnalyzer analyzer, CancellationToken cancellationToken = default)
    {
        var missing = new List<DocumentTerms>();
        using (var cmd = _writer.CreateCommand())
        {
            cmd.CommandText = "SELECT offset, title, text FROM points WHERE offset NOT IN (SELECT offset FROM doc_terms) ORDER BY offset";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                cancellationToken.ThrowIfCancellationRequested();
                var terms = analyzer.Count(reader.GetString(1), reader.GetString(2), out int length);
                missing.Add(new DocumentTerms((uint)reader.GetInt64(0), terms, length));
            }
        }
        if (missing.Count == 0) return 0;
        using var tx = _writer.BeginTransaction();
        using (var text = new PostingWriter(_writer, tx))
        {
            foreach (var d in missing) text.Add(d);
        }
        tx.Commit();
        return missing.Count;
    }

    /// <summary>Streams the postings table in (term, offset) order into <paramref name="index"/>, then every document length.</summary>
    public void LoadPostings(InvertedIndex index)
    {
        using (var cmd = _writer.CreateCommand())
        {
            cmd.CommandText = "SELECT term, offset, tf FROM postings ORDER BY term, offset";
            using var reader = cmd.ExecuteReader();
            while (reader.Read()) index.LoadPosting((uint)reader.GetInt64(0), (uint)reader.GetInt64(1), reader.GetInt32(2));
        }
        using (var cmd = _writer.CreateCommand())
        {
            cmd.CommandText = "SELECT offset, length FROM doc_terms ORDER BY offset";
            using var reader = cmd.ExecuteReader();
            while (reader.Read()) index.LoadLength((uint)reader.GetInt64(0), reader.GetInt32(1));
        }
    }

    /// <summary>
    /// The postings of one term read straight from SQLite on a pooled read connection (offset, tf), for measuring the
    /// on-disk index against the in-memory copy.
    /// </summary>
    public List<(uint Offset, int Tf)> ReadPostings(uint term)
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT offset, tf FROM postings WHERE term = $term";
        cmd.Parameters.AddWithValue("$term", (long)term);
        using var reader = cmd.ExecuteReader();
        var list = new List<(uint, int)>();
        while (reader.Read()) list.Add(((uint)reader.GetInt64(0), reader.GetInt32(1)));
        return list;
    }

    /// <summary>Rows of the postings table (tests).</summary>
    public long CountPostings()
    {
        using var cmd = _writer.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM postings";
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Prepared statements that add and remove one document's postings inside the caller's transaction.</summary>
    private sealed class PostingWriter : IDisposable
    {
        private readonly SqliteCommand _insertPosting, _deletePosting, _insertDoc, _removeById, _removeByOffset;

        public PostingWriter(SqliteConnection connection, SqliteTransaction tx)
        {
            _insertPosting = Prepare(connection, tx, "INSERT INTO postings(term, offset, tf) VALUES($term, $offset, $tf)", ("$term", SqliteType.Integer), ("$offset", SqliteType.Integer), ("$tf", SqliteType.Integer));
            _deletePosting = Prepare(connection, tx, "DELETE FROM postings WHERE term = $term AND offset = $offset", ("$term", SqliteType.Integer), ("$offset", SqliteType.Integer));
            _insertDoc = Prepare(connection, tx, "INSERT INTO doc_terms(offset, length, terms) VALUES($offset, $length, $terms)", ("$offset", SqliteType.Integer), ("$length", SqliteType.Integer), ("$terms", SqliteType.Blob));
            _removeById = Prepare(connection, tx, "DELETE FROM doc_terms WHERE offset = (SELECT offset FROM points WHERE id = $id) RETURNING offset, length, terms", ("$id", SqliteType.Blob));
            _removeByOffset = Prepare(connection, tx, "DELETE FROM doc_terms WHERE offset = $offset RETURNING offset, length, terms", ("$offset", SqliteType.Integer));
        }

        public void Add(DocumentTerms d)
        {
            _insertDoc.Parameters[0].Value = (long)d.Offset;
            _insertDoc.Parameters[1].Value = d.Length;
            _insertDoc.Parameters[2].Value = d.Encode();
            _insertDoc.ExecuteNonQuery();
            _insertPosting.Parameters[1].Value = (long)d.Offset;
            foreach (var t in d.Terms)
            {
                _insertPosting.Parameters[0].Value = (long)t.Term;
                _insertPosting.Parameters[2].Value = t.Count;
                _insertPosting.ExecuteNonQuery();
            }
        }

        public DocumentTerms? RemoveById(byte[] id)
        {
            _removeById.Parameters[0].Value = id;
            return Remove(_removeById);
        }

        public DocumentTerms? RemoveByOffset(uint offset)
        {
            _removeByOffset.Parameters[0].Value = (long)offset;
            return Remove(_removeByOffset);
        }

        private DocumentTerms? Remove(SqliteCommand command)
        {
            DocumentTerms? d = null;
            using (var reader = command.ExecuteReader())
            {
                if (reader.Read()) d = new DocumentTerms((uint)reader.GetInt64(0), DocumentTerms.Decode((byte[])reader[2]), reader.GetInt32(1));
            }
            if (d is null) return null;
            _deletePosting.Parameters[1].Value = (long)d.Offset;
            foreach (var t in d.Terms)
            {
                _deletePosting.Parameters[0].Value = (long)t.Term;
                _deletePosting.ExecuteNonQuery();
            }
            return d;
        }

        private static SqliteCommand Prepare(SqliteConnection connection, SqliteTransaction tx, string sql, params (string Name, SqliteType Type)[] parameters)
        {
            var cmd = connection.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            foreach (var (name, type) in parameters) cmd.Parameters.Add(name, type);
            cmd.Prepare();
            return cmd;
        }

        public void Dispose()
        {
            _insertPosting.Dispose();
            _deletePosting.Dispose();
            _insertDoc.Dispose();
            _removeById.Dispose();
            _removeByOffset.Dispose();
        }
    }

    /// <summary>Chunks by id on a pooled read connection; null where absent. Safe concurrently with writes.</summary>
    public Chunk?[] GetChunks(IReadOnlyList<ChunkId> ids, CancellationToken cancellationToken)
    {
        var result = new Chunk?[ids.Count];
        if (ids.Count == 0) return result;
        var positions = new Dictionary<ChunkId, List<int>>(ids.Count);
        for (int i = 0; i < ids.Count; i++)
        {
            if (!positions.TryGetValue(ids[i], out var list)) positions[ids[i]] = list = new List<int>(1);
            list.Add(i);
        }
        var unique = positions.Keys.ToArray();
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        const int Batch = 500;
        for (int start = 0; start < unique.Length; start += Batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(Batch, unique.Length - start);
            using var cmd = connection.CreateCommand();
            var sql = new StringBuilder("SELECT id, document, url, ordinal, text, tokens, continuation_text, continuation_tokens, metadata, title FROM points WHERE id IN (");
            for (int i = 0; i < count; i++)
            {
                if (i > 0) sql.Append(',');
                sql.Append("$p").Append(i);
                cmd.Parameters.AddWithValue("$p" + i, IdBytes(unique[start + i]));
            }
            cmd.CommandText = sql.Append(')').ToString();
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                var id = IdOf((byte[])reader[0]);
                var chunk = new Chunk(id, reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetString(4),
                    MemoryMarshal.Cast<byte, int>((byte[])reader[5]).ToArray(), reader.GetString(6),
                    MemoryMarshal.Cast<byte, int>((byte[])reader[7]).ToArray(), ParseMetadata(reader.GetString(8))) { Title = reader.GetString(9) };
                foreach (int i in positions[id]) result[i] = chunk;
            }
        }
        return result;
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

    // ---------------------------------------------------------------- ingest checkpoints

    public IngestCheckpoint? GetCheckpoint(string shardKey)
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT shard, records, byte_offset, completed, documents, chunks, rejected, duplicates FROM checkpoints WHERE shard = $shard";
        cmd.Parameters.AddWithValue("$shard", shardKey);
        using var reader = cmd.ExecuteReader();
        return reader.Read() ? ReadCheckpoint(reader) : null;
    }

    public List<IngestCheckpoint> ListCheckpoints()
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT shard, records, byte_offset, completed, documents, chunks, rejected, duplicates FROM checkpoints ORDER BY shard";
        using var reader = cmd.ExecuteReader();
        var list = new List<IngestCheckpoint>();
        while (reader.Read()) list.Add(ReadCheckpoint(reader));
        return list;
    }

    /// <summary>Durably replaces a shard's checkpoint. Callers serialise writes.</summary>
    public void SetCheckpoint(IngestCheckpoint c)
    {
        using var cmd = _writer.CreateCommand();
        cmd.CommandText = """
            INSERT INTO checkpoints(shard, records, byte_offset, completed, documents, chunks, rejected, duplicates)
            VALUES($shard, $records, $offset, $completed, $documents, $chunks, $rejected, $duplicates)
            ON CONFLICT(shard) DO UPDATE SET records = excluded.records, byte_offset = excluded.byte_offset, completed = excluded.completed,
                documents = excluded.documents, chunks = excluded.chunks, rejected = excluded.rejected, duplicates = excluded.duplicates
            """;
        cmd.Parameters.AddWithValue("$shard", c.ShardKey);
        cmd.Parameters.AddWithValue("$records", c.Records);
        cmd.Parameters.AddWithValue("$offset", c.ByteOffset);
        cmd.Parameters.AddWithValue("$completed", c.Completed ? 1 : 0);
        cmd.Parameters.AddWithValue("$documents", c.Documents);
        cmd.Parameters.AddWithValue("$chunks", c.Chunks);
        cmd.Parameters.AddWithValue("$rejected", c.Rejected);
        cmd.Parameters.AddWithValue("$duplicates", c.Duplicates);
        cmd.ExecuteNonQuery();
    }

    private static IngestCheckpoint ReadCheckpoint(SqliteDataReader r) => new(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3) != 0,
        r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7));

    // ---------------------------------------------------------------- encoding

    private static readonly JsonSerializerOptions JsonOptions = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    /// <summary>Metadata as a JSON object with keys in ordinal order (a canonical form: equal maps give equal strings).</summary>
    public static string MetadataJson(IReadOnlyDictionary<string, string> metadata)
    {
        var sorted = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in metadata) sorted[k] = v;
        return JsonSerializer.Serialize(sorted);
    }

    /// <summary>Parses <see cref="MetadataJson"/>'s output.</summary>
    public static IReadOnlyDictionary<string, string> ParseMetadata(string json)
        => JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? new Dictionary<string, string>();

    /// <summary>A stable 64-bit hash of everything a point stores (payload and vector): equal hash = re-upsert of the same point.</summary>
    public static long ContentHash(Chunk c, ReadOnlySpan<float> vector)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var scratch = new byte[16];
        c.Id.Value.TryWriteBytes(scratch);
        h.AppendData(scratch);
        AppendString(h, c.DocumentId);
        AppendString(h, c.Url);
        AppendInt(h, c.Ordinal);
        AppendString(h, c.Text);
        AppendInt(h, c.Tokens.Length);
        h.AppendData(MemoryMarshal.AsBytes(c.Tokens.AsSpan()));
        AppendString(h, c.ContinuationText);
        AppendInt(h, c.ContinuationTokens.Length);
        h.AppendData(MemoryMarshal.AsBytes(c.ContinuationTokens.AsSpan()));
        AppendString(h, MetadataJson(c.Metadata));
        if (c.Title.Length > 0) AppendString(h, c.Title); // untitled chunks hash as before titles existed
        h.AppendData(MemoryMarshal.AsBytes(vector));
        Span<byte> digest = stackalloc byte[32];
        h.GetHashAndReset(digest);
        return BitConverter.ToInt64(digest);
    }

    private static void AppendInt(IncrementalHash h, int v)
    {
        Span<byte> b = stackalloc byte[4];
        BitConverter.TryWriteBytes(b, v);
        h.AppendData(b);
    }

    private static void AppendString(IncrementalHash h, string s)
    {
        AppendInt(h, s.Length);
        h.AppendData(Encoding.UTF8.GetBytes(s));
    }

    private static byte[] IdBytes(ChunkId id)
    {
        var bytes = new byte[16];
        id.Value.TryWriteBytes(bytes, bigEndian: true, out _);
        return bytes;
    }

    private static ChunkId IdOf(byte[] bytes) => new(new Guid(bytes, bigEndian: true));

    private string? ReadMeta(string key)
    {
        using var cmd = _writer.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE key = $key";
        cmd.Parameters.AddWithValue("$key", key);
        return cmd.ExecuteScalar() as string;
    }

    private void WriteMeta(string key, string value, SqliteTransaction? tx = null)
    {
        using var cmd = _writer.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO meta(key, value) VALUES($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        cmd.Parameters.AddWithValue("$key", key);
        cmd.Parameters.AddWithValue("$value", value);
        cmd.ExecuteNonQuery();
    }

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
