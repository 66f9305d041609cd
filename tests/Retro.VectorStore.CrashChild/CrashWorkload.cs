using Retro.Core;

namespace Retro.VectorStore.CrashChild;

/// <summary>
/// The deterministic workload of the crash test, shared by the child (writes it) and the parent (checks it):
/// batch b upserts <see cref="NewPerBatch"/> new points of document <c>crash-b</c>, re-upserts the previous batch's
/// first <see cref="RepeatedPerBatch"/> points unchanged (idempotent path), and replaces the vector of point 0 of
/// batch b-2 (replace path).
/// </summary>
public static class CrashWorkload
{
    public const int Dimension = 32;
    public const int NewPerBatch = 20;
    public const int RepeatedPerBatch = 5;

    public static CollectionSpec Spec => new() { Name = "crash", Dimension = Dimension, Metric = DistanceMetric.Cosine, M = 8, EfConstruction = 64, Ef = 64 };

    /// <summary>Store options that make the child save derived files often, so kills land in every phase.</summary>
    public static EmbeddedStoreOptions Options => new() { GraphSaveInterval = 150, BuildThreads = 2 };

    /// <summary>The points batch <paramref name="batch"/> upserts.</summary>
    public static List<VectorPoint> Batch(int batch)
    {
        var points = new List<VectorPoint>(NewPerBatch + RepeatedPerBatch + 1);
        for (int i = 0; i < NewPerBatch; i++) points.Add(Point(batch, i, version: 0));
        if (batch >= 1)
        {
            for (int i = 1; i <= RepeatedPerBatch; i++) points.Add(Point(batch - 1, i, version: 0));
        }
        if (batch >= 2) points.Add(Point(batch - 2, 0, version: batch));
        return points;
    }

    /// <summary>Point <paramref name="ordinal"/> of batch <paramref name="batch"/>; <paramref name="version"/> 0 is the original vector.</summary>
    public static VectorPoint Point(int batch, int ordinal, int version)
    {
        string document = $"crash-{batch}";
        var chunk = new Chunk(ChunkId.From(document, ordinal), document, "", ordinal, $"text {batch}/{ordinal}", [batch, ordinal], "", [],
            new Dictionary<string, string> { ["batch"] = batch.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var random = new Random(batch * 1_000_003 + ordinal * 1_009 + version * 7 + 17);
        var vector = new float[Dimension];
        for (int j = 0; j < Dimension; j++) vector[j] = (float)(random.NextDouble() * 2 - 1);
        return new VectorPoint(chunk, vector);
    }
}
