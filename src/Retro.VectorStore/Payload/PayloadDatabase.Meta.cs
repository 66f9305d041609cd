using System.Text.Json;
using Microsoft.Data.Sqlite;
using Retro.Core;

namespace Retro.VectorStore.Payload;

// The collection meta: spec and vector high-water mark, in the meta table.
internal sealed partial class PayloadDatabase
{
    private const string SpecKey = "spec";
    private const string NextOffsetKey = "next_offset";

    private static readonly JsonSerializerOptions JsonOptions = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

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
}
