using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Retro.Core;
using Retro.VectorStore.Text;

namespace Retro.VectorStore.Payload;

// Points: payload, vector, offset and content hash; upserts and deletes with their postings in one transaction.
internal sealed partial class PayloadDatabase
{
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
}
