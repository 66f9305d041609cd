using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Retro.Core;

namespace Retro.VectorStore.Hnsw;

/// <summary>The JSON written beside a graph file.</summary>
internal sealed record GraphConfig(
    [property: JsonPropertyName("formatVersion")] int FormatVersion,
    [property: JsonPropertyName("m")] int M,
    [property: JsonPropertyName("efConstruction")] int EfConstruction,
    [property: JsonPropertyName("dimension")] int Dimension,
    [property: JsonPropertyName("metric")] string Metric,
    [property: JsonPropertyName("keepPrunedConnections")] bool KeepPrunedConnections,
    [property: JsonPropertyName("levelSeed")] ulong LevelSeed,
    [property: JsonPropertyName("nodes")] long Nodes);

/// <summary>
/// Binary graph persistence. Layout (little-endian): header {magic "HNSW", version, M, efConstruction, node count (i64),
/// entry node, top level (-1 when empty), level seed (u64), keepPruned (i32)}, one level byte per node, the level-0
/// lists (node count × (2M+1) u32), the upper lists of nodes above level 0 in node order (level × (M+1) u32), then a
/// 64-bit checksum of everything before it and the magic again. Written to a temporary file, fsynced, renamed.
/// </summary>
internal static class GraphFile
{
    /// <summary>"HNSW" little-endian; frozen by a format test.</summary>
    public const uint Magic = 0x57534E48;

    /// <summary>Graph file format version; frozen by a format test.</summary>
    public const int FormatVersion = 1;

    private const int HeaderBytes = 48;

    /// <summary>Writes nodes [0, graph.Count) and the config beside them. The caller excludes concurrent inserts.</summary>
    public static void Save(HnswGraph graph, string graphPath, string configPath, int dimension, DistanceMetric metric)
    {
        var g = graph.Arrays;
        int n = graph.Count;
        graph.Entry.TryGet(out uint entry, out int top);
        if (n == 0) top = -1;
        long upperCount = 0;
        for (int i = 0; i < n; i++) upperCount += g.Upper[i]?.Length ?? 0;
        long size = HeaderBytes + n + (long)n * (graph.M0 + 1) * 4 + upperCount * 4 + 12;
        if (size > Array.MaxLength) throw new InvalidOperationException("graph too large for one file");
        var buffer = new byte[size];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], graph.M);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], graph.EfConstruction);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], n);
        BinaryPrimitives.WriteUInt32LittleEndian(span[24..], entry);
        BinaryPrimitives.WriteInt32LittleEndian(span[28..], top);
        BinaryPrimitives.WriteUInt64LittleEndian(span[32..], graph.Seed);
        BinaryPrimitives.WriteInt32LittleEndian(span[40..], graph.KeepPrunedConnections ? 1 : 0);
        int pos = HeaderBytes;
        g.Levels.AsSpan(0, n).CopyTo(span[pos..]);
        pos += n;
        int l0 = n * (graph.M0 + 1);
        MemoryMarshal.AsBytes(g.Level0.AsSpan(0, l0)).CopyTo(span[pos..]);
        pos += l0 * 4;
        for (int i = 0; i < n; i++)
        {
            if (g.Upper[i] is { } upper)
            {
                MemoryMarshal.AsBytes(upper.AsSpan()).CopyTo(span[pos..]);
                pos += upper.Length * 4;
            }
        }
        BinaryPrimitives.WriteUInt64LittleEndian(span[pos..], Checksum(span[..pos]));
        BinaryPrimitives.WriteUInt32LittleEndian(span[(pos + 8)..], Magic);

        var config = new GraphConfig(FormatVersion, graph.M, graph.EfConstruction, dimension, metric.ToString(), graph.KeepPrunedConnections, graph.Seed, n);
        WriteAtomically(configPath, JsonSerializer.SerializeToUtf8Bytes(config, new JsonSerializerOptions { WriteIndented = true }));
        WriteAtomically(graphPath, buffer);
    }

    /// <summary>
    /// Loads a graph saved by <see cref="Save"/> when it is intact and matches the expected parameters; null (the
    /// caller rebuilds) when it is missing, corrupt, or was built with other parameters.
    /// </summary>
    public static HnswGraph? TryLoad(string graphPath, string configPath, int m, int efConstruction, int dimension, DistanceMetric metric, out string? problem)
    {
        problem = null;
        if (!File.Exists(graphPath) || !File.Exists(configPath)) { problem = "no graph file"; return null; }
        GraphConfig? config;
        try { config = JsonSerializer.Deserialize<GraphConfig>(File.ReadAllBytes(configPath)); }
        catch (JsonException e) { problem = "bad graph config: " + e.Message; return null; }
        if (config is null || config.FormatVersion != FormatVersion || config.M != m || config.Dimension != dimension || config.Metric != metric.ToString())
        {
            problem = "graph config does not match the collection";
            return null;
        }
        byte[] buffer = File.ReadAllBytes(graphPath);
        var span = buffer.AsSpan();
        if (buffer.Length < HeaderBytes + 12 || BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic
            || BinaryPrimitives.ReadInt32LittleEndian(span[4..]) != FormatVersion || BinaryPrimitives.ReadInt32LittleEndian(span[8..]) != m
            || BinaryPrimitives.ReadUInt32LittleEndian(span[^4..]) != Magic
            || BinaryPrimitives.ReadUInt64LittleEndian(span[^12..]) != Checksum(span[..^12]))
        {
            problem = "graph file header or checksum is wrong";
            return null;
        }
        long n = BinaryPrimitives.ReadInt64LittleEndian(span[16..]);
        uint entry = BinaryPrimitives.ReadUInt32LittleEndian(span[24..]);
        int top = BinaryPrimitives.ReadInt32LittleEndian(span[28..]);
        ulong seed = BinaryPrimitives.ReadUInt64LittleEndian(span[32..]);
        bool keepPruned = BinaryPrimitives.ReadInt32LittleEndian(span[40..]) != 0;
        var graph = new HnswGraph(m, efConstruction, seed, keepPruned);
        graph.EnsureCapacity((int)n);
        graph.SetCount((int)n);
        var g = graph.Arrays;
        int pos = HeaderBytes;
        span.Slice(pos, (int)n).CopyTo(g.Levels);
        pos += (int)n;
        int l0 = (int)n * (graph.M0 + 1);
        span.Slice(pos, l0 * 4).CopyTo(MemoryMarshal.AsBytes(g.Level0.AsSpan(0, l0)));
        pos += l0 * 4;
        for (int i = 0; i < n; i++)
        {
            int level = g.Levels[i];
            if (level == 0) continue;
            var upper = new uint[level * (m + 1)];
            span.Slice(pos, upper.Length * 4).CopyTo(MemoryMarshal.AsBytes(upper.AsSpan()));
            pos += upper.Length * 4;
            g.Upper[i] = upper;
        }
        if (pos != buffer.Length - 12) { problem = "graph file length is wrong"; return null; }
        if (n > 0) graph.Entry.Set(entry, top);
        return graph;
    }

    private static ulong Checksum(ReadOnlySpan<byte> data)
    {
        ulong h = 0xCBF29CE484222325UL;
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong w in words) h = (h ^ w) * 0x100000001B3UL + (h >> 29);
        for (int i = words.Length * 8; i < data.Length; i++) h = (h ^ data[i]) * 0x100000001B3UL;
        return h;
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        string temp = path + ".tmp";
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
