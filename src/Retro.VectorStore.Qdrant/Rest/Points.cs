using System.Text.Json;
using System.Text.Json.Serialization;

namespace Retro.VectorStore.Qdrant.Rest;

/// <summary>A point to upsert (<c>PointStruct</c>): id, the unnamed dense vector, optional named sparse vectors, payload.</summary>
[JsonConverter(typeof(PointStructConverter))]
public sealed record PointStruct
{
    /// <summary>Point id.</summary>
    public required PointId Id { get; init; }

    /// <summary>The dense vector (length = the collection's size).</summary>
    public required ReadOnlyMemory<float> Vector { get; init; }

    /// <summary>Payload object (null = none).</summary>
    public JsonElement? Payload { get; init; }

    /// <summary>Named sparse vectors (null or empty = none; then <c>vector</c> is written as the dense array alone).</summary>
    public IReadOnlyDictionary<string, SparseVector>? Sparse { get; init; }
}

/// <summary>Body of <c>PUT /collections/{name}/points</c> (<c>PointsList</c>).</summary>
public sealed record PointsList
{
    /// <summary>The points.</summary>
    public required IReadOnlyList<PointStruct> Points { get; init; }
}

/// <summary>
/// Which points an operation applies to (<c>PointsSelector</c>): exactly one of <see cref="Points"/> (ids) or
/// <see cref="Filter"/>.
/// </summary>
public sealed record PointsSelector
{
    /// <summary>Point ids.</summary>
    public IReadOnlyList<PointId>? Points { get; init; }

    /// <summary>Points matching this filter.</summary>
    public Filter? Filter { get; init; }
}

/// <summary>Body of <c>POST /collections/{name}/points</c> (<c>PointRequest</c>): retrieve by ids.</summary>
public sealed record PointRequest
{
    /// <summary>Ids to fetch; missing ids are left out of the result.</summary>
    public required IReadOnlyList<PointId> Ids { get; init; }

    /// <summary>Return payloads.</summary>
    public bool WithPayload { get; init; } = true;

    /// <summary>Return vectors.</summary>
    public bool WithVector { get; init; }
}

/// <summary>A stored point (<c>Record</c>).</summary>
public sealed record PointRecord
{
    /// <summary>Point id.</summary>
    [JsonRequired]
    public PointId Id { get; init; }

    /// <summary>Payload object when requested.</summary>
    public JsonElement? Payload { get; init; }

    /// <summary>Vector(s) when requested: an array of floats for an unnamed dense vector.</summary>
    public JsonElement? Vector { get; init; }

    /// <summary>The unnamed dense vector, or null when the record carries none (or only named vectors).</summary>
    public float[]? DenseVector() => QdrantVectors.Dense(Vector);
}

/// <summary>Body of <c>POST /collections/{name}/points/count</c> (<c>CountRequest</c>).</summary>
public sealed record CountRequest
{
    /// <summary>Count only points matching this filter (null = all).</summary>
    public Filter? Filter { get; init; }

    /// <summary>Exact count (true) or a fast estimate.</summary>
    public bool Exact { get; init; } = true;
}

/// <summary>Result of a count (<c>CountResult</c>).</summary>
public sealed record CountResult
{
    /// <summary>Number of points.</summary>
    [JsonRequired]
    public ulong Count { get; init; }
}

/// <summary>Body of <c>POST /collections/{name}/points/scroll</c> (<c>ScrollRequest</c>): pages in id order.</summary>
public sealed record ScrollRequest
{
    /// <summary>First id of the page (null = from the start).</summary>
    public PointId? Offset { get; init; }

    /// <summary>Page size (≥ 1; null = 10).</summary>
    public uint? Limit { get; init; }

    /// <summary>Only points matching this filter.</summary>
    public Filter? Filter { get; init; }

    /// <summary>Return payloads.</summary>
    public bool WithPayload { get; init; } = true;

    /// <summary>Return vectors.</summary>
    public bool WithVector { get; init; }
}

/// <summary>A page of a scroll (<c>ScrollResult</c>).</summary>
public sealed record ScrollResult
{
    /// <summary>The points of the page.</summary>
    [JsonRequired]
    public IReadOnlyList<PointRecord> Points { get; init; } = [];

    /// <summary>Offset of the next page; null on the last page.</summary>
    public PointId? NextPageOffset { get; init; }
}

/// <summary>Helpers over Qdrant's vector JSON shapes.</summary>
public static class QdrantVectors
{
    /// <summary>Reads an unnamed dense vector (a JSON array of numbers); null for anything else.</summary>
    public static float[]? Dense(JsonElement? vector)
    {
        if (vector is not { ValueKind: JsonValueKind.Array } array) return null;
        var result = new float[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number) return null; // a multivector (array of arrays)
            result[i++] = item.GetSingle();
        }
        return result;
    }
}
