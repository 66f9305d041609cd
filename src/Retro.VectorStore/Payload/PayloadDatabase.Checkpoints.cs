using Microsoft.Data.Sqlite;
using Retro.Core;

namespace Retro.VectorStore.Payload;

// Ingest checkpoints of the indexer, kept in the store (IIngestCheckpoints).
internal sealed partial class PayloadDatabase
{
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
}
