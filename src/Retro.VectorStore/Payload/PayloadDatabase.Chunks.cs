using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Data.Sqlite;
using Retro.Core;

namespace Retro.VectorStore.Payload;

// Chunks by id, read on pooled connections concurrently with the writer.
internal sealed partial class PayloadDatabase
{
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
}
