using Microsoft.Data.Sqlite;
using Retro.Core;
using Retro.Core.Text;
using Retro.VectorStore.Text;

namespace Retro.VectorStore.Payload;

// The BM25 inverted index on disk: postings (term, offset, tf) and per offset its length and terms.
internal sealed partial class PayloadDatabase
{
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
}
