using System.Buffers.Binary;
using System.Text.Json;
using Retro.Core;
using Retro.VectorStore.Hnsw;
using Retro.VectorStore.Vectors;

namespace Retro.VectorStore.Tests;

/// <summary>Freezes what is on disk: file names, header magics and versions, persisted enum names, the graph round trip.</summary>
public sealed class FormatTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("retro-format-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void FileNames_AreFrozen()
    {
        StoreFiles.Database.ShouldBe("store.db");
        StoreFiles.Vectors.ShouldBe("vectors.bin");
        StoreFiles.Graph.ShouldBe("hnsw.bin");
        StoreFiles.GraphConfig.ShouldBe("hnsw.json");
        StoreFiles.Lock.ShouldBe("LOCK");
    }

    [Fact]
    public void Magics_AndVersions_AreFrozen()
    {
        VectorStorage.Magic.ShouldBe(0x43455652u); // "RVEC"
        VectorStorage.FormatVersion.ShouldBe(1);
        VectorStorage.HeaderBytes.ShouldBe(4096);
        GraphFile.Magic.ShouldBe(0x57534E48u); // "HNSW"
        GraphFile.FormatVersion.ShouldBe(1);
    }

    [Fact]
    public async Task Files_StartWithTheirMagic_AndConfigNamesTheParameters()
    {
        var spec = new CollectionSpec { Name = "fmt", Dimension = 8, Metric = DistanceMetric.Euclid, M = 6, EfConstruction = 40 };
        var store = await EmbeddedVectorStore.OpenAsync(_directory, spec);
        await store.UpsertAsync(Contract.ContractData.Points(3, 4, 8, seed: 1));
        await store.DisposeAsync();

        string folder = Path.Combine(_directory, "fmt");
        var vectors = File.ReadAllBytes(Path.Combine(folder, StoreFiles.Vectors));
        System.Text.Encoding.ASCII.GetString(vectors, 0, 4).ShouldBe("RVEC");
        BinaryPrimitives.ReadInt32LittleEndian(vectors.AsSpan(4)).ShouldBe(1);
        BinaryPrimitives.ReadInt32LittleEndian(vectors.AsSpan(8)).ShouldBe(8);
        BinaryPrimitives.ReadInt64LittleEndian(vectors.AsSpan(16)).ShouldBe(12, "durable high-water mark after a clean close");

        var graph = File.ReadAllBytes(Path.Combine(folder, StoreFiles.Graph));
        System.Text.Encoding.ASCII.GetString(graph, 0, 4).ShouldBe("HNSW");
        System.Text.Encoding.ASCII.GetString(graph, graph.Length - 4, 4).ShouldBe("HNSW");

        using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, StoreFiles.GraphConfig)));
        var root = config.RootElement;
        root.GetProperty("formatVersion").GetInt32().ShouldBe(1);
        root.GetProperty("m").GetInt32().ShouldBe(6);
        root.GetProperty("efConstruction").GetInt32().ShouldBe(40);
        root.GetProperty("dimension").GetInt32().ShouldBe(8);
        root.GetProperty("metric").GetString().ShouldBe("Euclid");
        root.GetProperty("nodes").GetInt64().ShouldBe(12);
    }

    [Fact]
    public void PersistedEnumNames_AreFrozen()
    {
        // The spec is stored as JSON with enum names; renaming a member orphans stored collections.
        Enum.GetNames<DistanceMetric>().ShouldBe(["Cosine", "Dot", "Euclid"]);
        Enum.GetNames<QuantizationKind>().ShouldBe(["None", "Int8"]);
    }

    [Fact]
    public void Graph_RoundTrips_AndCorruptionIsDetected()
    {
        var data = TestData.Clustered(500, 16, 5, seed: 9);
        var index = TestData.Build(data, DistanceMetric.Cosine, m: 8, efConstruction: 50);
        string graphPath = Path.Combine(_directory, "g.bin"), configPath = Path.Combine(_directory, "g.json");
        GraphFile.Save(index.Graph, graphPath, configPath, 16, DistanceMetric.Cosine);

        var loaded = GraphFile.TryLoad(graphPath, configPath, 8, 50, 16, DistanceMetric.Cosine, out string? problem);
        problem.ShouldBeNull();
        loaded.ShouldNotBeNull();
        loaded.Count.ShouldBe(index.Graph.Count);
        loaded.Entry.TryGet(out uint e1, out int l1).ShouldBeTrue();
        index.Graph.Entry.TryGet(out uint e0, out int l0);
        (e1, l1).ShouldBe((e0, l0));
        var a = index.Graph.Arrays;
        var b = loaded.Arrays;
        b.Level0.AsSpan(0, 500 * 17).SequenceEqual(a.Level0.AsSpan(0, 500 * 17)).ShouldBeTrue();
        for (int i = 0; i < 500; i++)
        {
            b.Levels[i].ShouldBe(a.Levels[i]);
            (b.Upper[i] ?? []).ShouldBe(a.Upper[i] ?? []);
        }

        GraphFile.TryLoad(graphPath, configPath, 8, 50, 16, DistanceMetric.Dot, out problem).ShouldBeNull("another metric");
        problem.ShouldNotBeNull();
        var bytes = File.ReadAllBytes(graphPath);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(graphPath, bytes);
        GraphFile.TryLoad(graphPath, configPath, 8, 50, 16, DistanceMetric.Cosine, out problem).ShouldBeNull("a flipped bit");
        problem!.ShouldContain("checksum");
    }
}
